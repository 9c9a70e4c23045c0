using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Http.Features;

namespace GatewayBridge;

/// <summary>
/// The request an environ reads its values from (see <see cref="EnvironTable"/>), valid until the request ends.
/// The environ derives from it so that a request costs one object, not two.
/// </summary>
internal abstract class EnvironSource
{
    private readonly Func<TextWriter>? _errorsFactory;
    private IHttpRequestFeature? _request;
    private CancellationTokenSource? _aborted;
    private IHttpConnectionFeature? _connection;
    private bool _connectionRead;

    protected EnvironSource(
        HttpContext context, string scriptName, string pathInfo, Stream input, bool allowUnderscoreHeaders,
        Func<TextWriter>? errorsFactory, CancellationToken requestAborted)
    {
        Context = context;
        ScriptName = scriptName;
        PathInfo = pathInfo;
        Input = input;
        AllowUnderscoreHeaders = allowUnderscoreHeaders;
        _errorsFactory = errorsFactory;
        RequestAbortedToken = requestAborted;
    }

    public HttpContext Context { get; }

    /// <summary>SCRIPT_NAME as the mount point gives it.</summary>
    public string ScriptName { get; }

    /// <summary>PATH_INFO as ASP.NET decoded it (a <c>#fragment</c> may still be on it; the table cuts it).</summary>
    public string PathInfo { get; }

    public Stream Input { get; }

    public bool AllowUnderscoreHeaders { get; }

    public CancellationToken RequestAbortedToken { get; }

    /// <summary>
    /// The request-aborted token an app reads from the environ: one of the bridge's own, linked to the server's and
    /// cancelled when the request ends. The server's own is reset and reused for the next request on the connection,
    /// so an app that kept it would see that request's abort.
    /// </summary>
    public object RequestAborted => (_aborted ??= CancellationTokenSource.CreateLinkedTokenSource(RequestAbortedToken)).Token;

    // Read straight from the server's features: HttpRequest's per-property feature cache checks add up over two
    // dozen values, and Kestrel answers a type-keyed feature lookup with a type switch.
    public IHttpRequestFeature Request => _request ??= Context.Features.Feature<IHttpRequestFeature>() ??
        throw new InvalidOperationException("The server provides no IHttpRequestFeature.");

    public IHttpConnectionFeature? Connection
    {
        get
        {
            if (!_connectionRead)
            {
                _connection = Context.Features.Feature<IHttpConnectionFeature>();
                _connectionRead = true;
            }

            return _connection;
        }
    }

    public bool IsHttps => string.Equals(Request.Scheme, "https", StringComparison.OrdinalIgnoreCase);

    /// <summary>The <c>wsgi.errors</c> writer, once the app has asked for it; the server flushes it when the request ends.</summary>
    public TextWriter? ErrorsWriter { get; private set; }

    public TextWriter OpenErrors() => ErrorsWriter = _errorsFactory?.Invoke() ?? TextWriter.Null;

    /// <summary>Ends what the app may have kept: the request-aborted token it read now says the request is over.</summary>
    protected void EndRequest()
    {
        if (_aborted is { } aborted)
        {
            aborted.Cancel();
            aborted.Dispose();
        }
    }
}
