using System.Text;
using System.Text.Json;
using GatewayBridge.Python.Tests.Infrastructure;

namespace GatewayBridge.Python.Tests.Wsgi;

/// <summary>
/// The same raw request bytes sent to gunicorn and to GatewayBridge, each serving one environ-dumping app: every
/// PEP 3333 key must agree, except the differences below, each deliberate (docs/python.md lists them with their
/// reasons); in both modes, the host's interpreter and worker processes.
/// </summary>
public class GunicornDifferentialTests(GunicornServer gunicorn) : IClassFixture<GunicornServer>
{
    // Key -> why GatewayBridge differs from gunicorn 20.1 on purpose.
    public static readonly IReadOnlyDictionary<string, string> Differences = new Dictionary<string, string>
    {
        ["SERVER_NAME"] = "from the Host header (the contract, and PEP 3333's url reconstruction); gunicorn uses its listening socket",
        ["SERVER_PORT"] = "from the Host header, as SERVER_NAME",
        ["REMOTE_PORT"] = "each connection's own ephemeral port",
        ["SERVER_SOFTWARE"] = "names the server",
        ["wsgi.multithread"] = "True in the host's interpreter, whose Python threads serve requests; in a worker it follows Threads (False by default, as gunicorn's sync worker)",
        ["wsgi.multiprocess"] = "False in the host's interpreter (one process); True in worker processes, as gunicorn's",
        ["wsgi.input"] = "an io.BytesIO, or a file opened on the spilled body; gunicorn's own Body class",
        ["wsgi.errors"] = "a text stream into the host's ILogger; gunicorn's WSGIErrorsWrapper",
        ["REQUEST_URI"] = "the contract's name for the raw target; RAW_URI, gunicorn's name, is there too",
        ["gunicorn.socket"] = "gunicorn's own",
        ["HTTP_X_SPOOF"] = "a header name with '_' is dropped (the contract; gunicorn 22 does the same)",
        ["HTTP_TRACEPARENT"] = "the host's app span's when the host traces the request, as a tracing proxy hands on its own (PythonTracingTests); the client's otherwise",
        ["HTTP_TRACESTATE"] = "the traced request's, with the traceparent above",
    };

    public static TheoryData<string, string, int> Requests
    {
        get
        {
            var data = new TheoryData<string, string, int>();
            foreach (var (name, request) in RequestBytes)
            {
                data.Add(name, request, 0);
                data.Add(name, request, 1);
            }

            return data;
        }
    }

    private static readonly (string Name, string Request)[] RequestBytes =
    [
        ("root", "GET / HTTP/1.1\r\nHost: example.com:8080\r\n"),
        ("escapes", "GET /caf%C3%A9/a%2Fb/%25/%FF%FE;p=1?x=%20y&z=%C3%A9&flag HTTP/1.1\r\nHost: example.com\r\n"),
        ("spaces and slashes", "GET /sp%20ace//double/ HTTP/1.1\r\nHost: h\r\n"),
        ("headers", "GET /h HTTP/1.1\r\nHost: h\r\nAccept: a\r\nAccept: b\r\nx-lower-case: v\r\nX-Utf8: caf\u00e9\r\nX_Spoof: 1\r\nX-Empty:\r\nUser-Agent: diff/1\r\n"),
        ("form post", "POST /form?q=1 HTTP/1.1\r\nHost: h\r\nContent-Type: application/x-www-form-urlencoded\r\nContent-Length: 7\r\n\r\na=1&b=2"),
        ("http/1.0", "GET /old HTTP/1.0\r\nHost: h\r\n"),
        ("head", "HEAD /x HTTP/1.1\r\nHost: h\r\n"),
    ];

    [Theory]
    [MemberData(nameof(Requests))]
    public async Task EveryPep3333Key_AgreesWithGunicorn_ExceptTheDeliberateDifferences(string name, string request, int workers)
    {
        await using var host = await PythonTestHost.StartAsync("wsgi_apps:dump", kestrel: true, python: o => o.Workers = workers);
        var ours = await DumpAsync(host.Port, request);
        var theirs = await DumpAsync(gunicorn.Port, request);

        var disagreements = ours.Keys.Union(theirs.Keys)
            .Where(key => !Differences.ContainsKey(key))
            .Where(key => ours.GetValueOrDefault(key) != theirs.GetValueOrDefault(key))
            .Select(key => $"{key}: ours {Show(ours.GetValueOrDefault(key))}, gunicorn {Show(theirs.GetValueOrDefault(key))}")
            .ToList();
        Assert.True(disagreements.Count == 0, $"{name}: {string.Join("; ", disagreements)}");

        // The differences are real differences of value, not keys one side lacks, except the server-specific ones.
        Assert.All(["wsgi.input", "wsgi.errors", "SERVER_NAME", "SERVER_PORT", "REMOTE_PORT"], key => Assert.Contains(key, (IDictionary<string, string>)ours));
        Assert.Matches("^[0-9]+$", ours["REMOTE_PORT"]);
        Assert.Equal(workers > 0 ? "True" : "False", ours["wsgi.multiprocess"]);
    }

    private static string Show(string? value) => value is null ? "<absent>" : $"'{value}'";

    private static async Task<Dictionary<string, string>> DumpAsync(int port, string request)
    {
        using var connection = RawConnection.Open(port);
        var text = request.Contains("\r\n\r\n", StringComparison.Ordinal) ? request.Replace("\r\n\r\n", "\r\nConnection: close\r\n\r\n", StringComparison.Ordinal) : request + "Connection: close\r\n\r\n";
        await connection.SendAsync(Encoding.UTF8.GetBytes(text));
        var (response, _) = await connection.ReadToCloseAsync();
        var body = RawResponse.Parse(response).Body;
        if (request.StartsWith("HEAD", StringComparison.Ordinal))
        {
            // No body on HEAD: ask the same thing with GET and compare REQUEST_METHOD apart.
            var get = await DumpAsync(port, "GET" + request[4..]);
            get["REQUEST_METHOD"] = "HEAD";
            return get;
        }

        return JsonSerializer.Deserialize<Dictionary<string, string>>(body)!;
    }
}
