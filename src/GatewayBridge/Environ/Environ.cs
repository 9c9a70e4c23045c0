namespace GatewayBridge;

/// <summary>
/// The keys of a gateway <c>environ</c>, grouped as PEP 3333 groups them.
/// </summary>
public static class Environ
{
    // CGI variables (PEP 3333, "environ Variables").

    /// <summary><c>REQUEST_METHOD</c>: the HTTP method, such as <c>GET</c>.</summary>
    public const string RequestMethod = "REQUEST_METHOD";

    /// <summary><c>SCRIPT_NAME</c>: the mount point of the app; "" at the root; never ends with <c>/</c>.</summary>
    public const string ScriptName = "SCRIPT_NAME";

    /// <summary><c>PATH_INFO</c>: the rest of the path, percent-decoded (except <c>%2F</c>); "" or starts with <c>/</c>.</summary>
    public const string PathInfo = "PATH_INFO";

    /// <summary><c>QUERY_STRING</c>: the raw query, without <c>?</c>; "" when absent.</summary>
    public const string QueryString = "QUERY_STRING";

    /// <summary><c>CONTENT_TYPE</c>: present only when the request has a <c>Content-Type</c> header.</summary>
    public const string ContentType = "CONTENT_TYPE";

    /// <summary><c>CONTENT_LENGTH</c>: present only when the request has a <c>Content-Length</c> header.</summary>
    public const string ContentLength = "CONTENT_LENGTH";

    /// <summary><c>SERVER_NAME</c>: the host from the <c>Host</c> header, else the local address.</summary>
    public const string ServerName = "SERVER_NAME";

    /// <summary><c>SERVER_PORT</c>: the port from the <c>Host</c> header, else the local port, as digits.</summary>
    public const string ServerPort = "SERVER_PORT";

    /// <summary><c>SERVER_PROTOCOL</c>: <c>HTTP/1.0</c>, <c>HTTP/1.1</c>, <c>HTTP/2</c> or <c>HTTP/3</c>.</summary>
    public const string ServerProtocol = "SERVER_PROTOCOL";

    /// <summary><c>REMOTE_ADDR</c>: the peer's address (after forwarded headers, when the host uses them).</summary>
    public const string RemoteAddr = "REMOTE_ADDR";

    /// <summary><c>REMOTE_PORT</c>: the peer's port, as digits.</summary>
    public const string RemotePort = "REMOTE_PORT";

    /// <summary><c>REMOTE_USER</c>: the authenticated user's name; present only when ASP.NET authenticated the request.</summary>
    public const string RemoteUser = "REMOTE_USER";

    /// <summary><c>REQUEST_URI</c>: the request target exactly as the client sent it (path and query, undecoded).</summary>
    public const string RequestUri = "REQUEST_URI";

    /// <summary><c>HTTPS</c>: <c>on</c> when the request came over TLS; absent otherwise.</summary>
    public const string Https = "HTTPS";

    /// <summary>The prefix of the keys that carry request headers, such as <c>HTTP_ACCEPT</c>.</summary>
    public const string HttpHeaderPrefix = "HTTP_";

    // wsgi.* variables (PEP 3333).

    /// <summary><c>wsgi.version</c>: <c>(1, 0)</c> as a <see cref="ValueTuple{T1, T2}"/> of two ints.</summary>
    public const string Version = "wsgi.version";

    /// <summary><c>wsgi.url_scheme</c>: <c>http</c> or <c>https</c>.</summary>
    public const string UrlScheme = "wsgi.url_scheme";

    /// <summary><c>wsgi.input</c>: the request body as a readable <see cref="Stream"/>; synchronous reads are safe.</summary>
    public const string Input = "wsgi.input";

    /// <summary><c>wsgi.errors</c>: a <see cref="TextWriter"/> whose lines reach the host's logging.</summary>
    public const string Errors = "wsgi.errors";

    /// <summary><c>wsgi.multithread</c>: <see langword="true"/>.</summary>
    public const string Multithread = "wsgi.multithread";

    /// <summary><c>wsgi.multiprocess</c>: <see langword="false"/>.</summary>
    public const string Multiprocess = "wsgi.multiprocess";

    /// <summary><c>wsgi.run_once</c>: <see langword="false"/>.</summary>
    public const string RunOnce = "wsgi.run_once";

    /// <summary><c>wsgi.file_wrapper</c>: a <c>Func&lt;Stream, int, IEnumerable&lt;byte[]&gt;&gt;</c> that wraps a stream for efficient sending.</summary>
    public const string FileWrapper = "wsgi.file_wrapper";

    /// <summary><c>wsgi.input_terminated</c>: <see langword="true"/>; reading <c>wsgi.input</c> to its end is safe.</summary>
    public const string InputTerminated = "wsgi.input_terminated";

    // Keys of the bridge itself.

    /// <summary><c>gatewaybridge.http_context</c>: the ASP.NET Core <c>HttpContext</c> of the request.</summary>
    public const string HttpContext = "gatewaybridge.http_context";

    /// <summary><c>gatewaybridge.request_aborted</c>: a <see cref="CancellationToken"/> that fires when the client goes away.</summary>
    public const string RequestAborted = "gatewaybridge.request_aborted";
}
