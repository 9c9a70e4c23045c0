using System.Text;
using GatewayBridge.Tests.Infrastructure;

namespace GatewayBridge.Tests;

public class GatewayValidatorTests
{
    private static readonly (string, string)[] TextHeaders = [("Content-Type", "text/plain")];

    private static IEnumerable<byte[]> Good(IDictionary<string, object?> environ, StartResponse startResponse)
    {
        startResponse("200 OK", TextHeaders);
        return [Encoding.UTF8.GetBytes("ok")];
    }

    /// <summary>Plays the server: a default environ, a recording start_response, the body enumerated and disposed.</summary>
    private static List<byte[]> Serve(GatewayApp app, Action<Dictionary<string, object?>>? environChange = null, bool disposeTwice = false, bool enumerateTwice = false)
    {
        var environ = new Dictionary<string, object?>();
        GatewayUtil.SetupTestingDefaults(environ);
        environChange?.Invoke(environ);
        var sent = new List<byte[]>();
        var result = GatewayValidator.Wrap(app)(environ, (status, headers, exc) => data => sent.Add(data));
        foreach (var chunk in result)
        {
            sent.Add(chunk);
        }

        if (enumerateTwice)
        {
            foreach (var chunk in result)
            {
                sent.Add(chunk);
            }
        }

        (result as IDisposable)?.Dispose();
        if (disposeTwice)
        {
            (result as IDisposable)?.Dispose();
        }

        return sent;
    }

    private static void AssertRule(string rule, Action action)
    {
        var error = Assert.Throws<GatewayValidationException>(action);
        Assert.Equal(rule, error.Rule);
        Assert.Contains(rule, error.Message, StringComparison.Ordinal);

        // Beyond the id, every rule says in words what was wrong.
        Assert.Matches(@"broken: \S.{10,}", error.Message);
    }

    public static NamedCases<Action<Dictionary<string, object?>>> ServerSideViolations { get; } = new()
    {
        { "environ.required-key", e => e.Remove("SERVER_NAME") },
        { "environ.content-twin", e => e["HTTP_CONTENT_TYPE"] = "text/plain" },
        { "environ.cgi-string", e => e["SERVER_PORT"] = 80 },
        { "environ.version", e => e["wsgi.version"] = (2, 0) },
        { "environ.url-scheme", e => e["wsgi.url_scheme"] = "ftp" },
        { "environ.input-type", e => e["wsgi.input"] = "not a stream" },
        { "environ.errors-type", e => e["wsgi.errors"] = Console.Out.Encoding },
        { "environ.flag-type", e => e["wsgi.multithread"] = 1 },
        { "environ.file-wrapper-type", e => e["wsgi.file_wrapper"] = "nope" },
        { "environ.request-method", e => e["REQUEST_METHOD"] = "get me" },
        { "environ.request-method", e => e["REQUEST_METHOD"] = "gET" },
        { "environ.request-method", e => e["REQUEST_METHOD"] = "" },
        { "environ.flag-type", e => e["wsgi.input_terminated"] = "yes" },
        { "environ.script-name", e => e["SCRIPT_NAME"] = "app" },
        { "environ.path-info", e => e["PATH_INFO"] = "x" },
        { "environ.script-or-path", e => { e.Remove("SCRIPT_NAME"); e.Remove("PATH_INFO"); } },
        { "environ.query-string", e => e["QUERY_STRING"] = "?a=1" },
        { "environ.content-length", e => e["CONTENT_LENGTH"] = "12a" },
        { "environ.server-port", e => e["SERVER_PORT"] = "http" },
    };

    [Theory]
    [MemberData(nameof(ServerSideViolations))]
    public void ServerSide_EachEnvironRule_IsCaught(string rule)
    {
        AssertRule(RuleOf(rule), () => Serve(Good, ServerSideViolations[rule]));
    }

    [Fact]
    public void ServerSide_ANullCgiValue_IsNamedAsNull()
    {
        var error = Assert.Throws<GatewayValidationException>(() => Serve(Good, e => e["SERVER_PROTOCOL"] = null));

        Assert.Equal("environ.cgi-string", error.Rule);
        Assert.Contains("'SERVER_PROTOCOL' is a null, not a string", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void ServerSide_ScriptNameEndingInSlash_IsCaught()
    {
        AssertRule("environ.script-name", () => Serve(Good, e => e["SCRIPT_NAME"] = "/"));
    }

    [Fact]
    public void ServerSide_NullEnvironOrStartResponse_IsCaught()
    {
        AssertRule("environ.type", () => GatewayValidator.Wrap(Good)(null!, (s, h, e) => _ => { }));
        var environ = new Dictionary<string, object?>();
        GatewayUtil.SetupTestingDefaults(environ);
        AssertRule("start_response.type", () => GatewayValidator.Wrap(Good)(environ, null!));
    }

    public static NamedCases<GatewayApp> AppSideViolations { get; } = new()
    {
        { "iterable.null", (e, s) => null! },
        { "status.type", (e, s) => { s(null!, TextHeaders); return []; } },
        { "status.format", (e, s) => { s("200OK", TextHeaders); return []; } },
        { "status.code", (e, s) => { s("102 Processing", TextHeaders); return []; } },
        { "status.control-chars", (e, s) => { s("200 OK\n", TextHeaders); return []; } },
        { "headers.type", (e, s) => { s("200 OK", null!); return []; } },
        { "headers.name", (e, s) => { s("200 OK", [("Content-Type", "text/plain"), ("Bad Name", "x")]); return []; } },
        { "headers.name", (e, s) => { s("200 OK", [("Content-Type", "text/plain"), ("X(y)", "x")]); return []; } },
        { "headers.name", (e, s) => { s("200 OK", [("Content-Type", "text/plain"), ("X-", "x")]); return []; } },
        { "headers.name", (e, s) => { s("200 OK", [("Content-Type", "text/plain"), ("X_", "x")]); return []; } },
        { "start_response.missing", (e, s) => FileWrapper.Factory(new MemoryStream([1]), 0) },
        { "iterable.chunk-type", (e, s) => LazyNull(s) },
        { "headers.status", (e, s) => { s("200 OK", [("Content-Type", "text/plain"), ("Status", "200")]); return []; } },
        { "headers.value", (e, s) => { s("200 OK", [("Content-Type", "text/plain\r\nX: y")]); return []; } },
        { "headers.hop-by-hop", (e, s) => { s("200 OK", [("Content-Type", "text/plain"), ("Connection", "close")]); return []; } },
        { "headers.content-length", (e, s) => { s("200 OK", [("Content-Type", "text/plain"), ("Content-Length", "ten")]); return []; } },
        { "headers.content-type", (e, s) => { s("200 OK", []); return []; } },
        { "start_response.twice", (e, s) => { s("200 OK", TextHeaders); s("200 OK", TextHeaders); return []; } },
        { "write.type", (e, s) => { s("200 OK", TextHeaders)(null!); return []; } },
        { "start_response.missing", (e, s) => [Encoding.UTF8.GetBytes("no start")] },
        { "start_response.missing", (e, s) => [] },
        { "start_response.missing", (e, s) => Enumerable.Range(0, 0).Select(_ => Array.Empty<byte>()) },
        { "iterable.chunk-type", (e, s) => { s("200 OK", TextHeaders); return [null!]; } },
        { "input.seek", (e, s) => { ((Stream)e["wsgi.input"]!).Seek(0, SeekOrigin.Begin); return []; } },
        { "input.write", (e, s) => { ((Stream)e["wsgi.input"]!).Write([1], 0, 1); return []; } },
        { "input.write", (e, s) => { ((Stream)e["wsgi.input"]!).SetLength(0); return []; } },
        { "input.seek", (e, s) => { _ = ((Stream)e["wsgi.input"]!).Length; return []; } },
        { "input.seek", (e, s) => { _ = ((Stream)e["wsgi.input"]!).Position; return []; } },
        { "input.seek", (e, s) => { ((Stream)e["wsgi.input"]!).Position = 0; return []; } },
        { "input.close", (e, s) => { ((Stream)e["wsgi.input"]!).Dispose(); return []; } },
        { "errors.close", (e, s) => { ((TextWriter)e["wsgi.errors"]!).Dispose(); return []; } },
    };

    // A rule checked by several cases is named once per case, repeats as "rule #2" and on.
    private static string RuleOf(string caseName) => caseName.Split(" #")[0];

    private static IEnumerable<byte[]> LazyNull(StartResponse startResponse)
    {
        startResponse("200 OK", TextHeaders);
        yield return null!;
    }

    [Theory]
    [MemberData(nameof(AppSideViolations))]
    public void AppSide_EachRule_IsCaught(string rule)
    {
        AssertRule(RuleOf(rule), () => Serve(AppSideViolations[rule]));
    }

    [Fact]
    public void TheWrappedInputAndBody_SayWhatTheyAllow()
    {
        var input = (Stream?)null;
        var environ = new Dictionary<string, object?>();
        GatewayUtil.SetupTestingDefaults(environ);

        var body = GatewayValidator.Wrap((e, s) => { input = (Stream)e["wsgi.input"]!; return Good(e, s); })(environ, (status, headers, exc) => _ => { });

        Assert.Equal((true, false, false), (input!.CanRead, input.CanSeek, input.CanWrite));
        var list = Assert.IsAssignableFrom<IList<byte[]>>(body);
        Assert.True(list.IsReadOnly, "a validated list body is the app's; the server must not change it");
        ((IDisposable)body).Dispose();
    }

    [Fact]
    public void ContentTypeOnA204_IsCaught()
    {
        AssertRule("headers.content-type", () => Serve((e, s) =>
        {
            s("204 No Content", TextHeaders);
            return [];
        }));
    }

    [Fact]
    public void ChunkFromALazyBodyBeforeStartResponse_IsCaught()
    {
        static IEnumerable<byte[]> Lazy(IDictionary<string, object?> environ, StartResponse startResponse)
        {
            yield return Encoding.UTF8.GetBytes("too early");
            startResponse("200 OK", TextHeaders);
        }

        AssertRule("iterable.before-start", () => Serve(Lazy));
    }

    [Fact]
    public void WriteAfterTheIterableWasDisposed_IsCaught()
    {
        WriteBody? write = null;
        Serve((e, s) =>
        {
            write = s("200 OK", TextHeaders);
            return [];
        });

        AssertRule("write.after-close", () => write!([1]));
    }

    [Fact]
    public void ServerDisposingTwice_OrEnumeratingTwice_IsCaught()
    {
        AssertRule("iterable.closed-twice", () => Serve(Good, disposeTwice: true));

        static IEnumerable<byte[]> Lazy(IDictionary<string, object?> environ, StartResponse startResponse)
        {
            startResponse("200 OK", TextHeaders);
            yield return [1];
        }

        AssertRule("iterable.enumerated-twice", () => Serve(Lazy, enumerateTwice: true));
    }

    [Fact]
    public void ReadingTheBodyAfterDispose_IsCaught()
    {
        var environ = new Dictionary<string, object?>();
        GatewayUtil.SetupTestingDefaults(environ);
        var body = (IList<byte[]>)GatewayValidator.Wrap(Good)(environ, (s, h, e) => _ => { });
        ((IDisposable)body).Dispose();

        AssertRule("iterable.read-after-close", () => _ = body[0]);
    }

    [Fact]
    public void ALazyBody_ReadOrEnumeratedAfterDispose_OrDisposedTwice_IsCaught()
    {
        static IEnumerable<byte[]> Lazy(IDictionary<string, object?> environ, StartResponse startResponse)
        {
            startResponse("200 OK", TextHeaders);
            yield return [1];
            yield return [2];
        }

        var environ = new Dictionary<string, object?>();
        GatewayUtil.SetupTestingDefaults(environ);
        var body = GatewayValidator.Wrap(Lazy)(environ, (s, h, e) => _ => { });
        using var enumerator = body.GetEnumerator();
        Assert.True(enumerator.MoveNext());
        ((IDisposable)body).Dispose();

        AssertRule("iterable.read-after-close", () => enumerator.MoveNext());
        AssertRule("iterable.closed-twice", () => ((IDisposable)body).Dispose());

        var unread = GatewayValidator.Wrap(Lazy)(environ, (s, h, e) => _ => { });
        ((IDisposable)unread).Dispose();
        AssertRule("iterable.read-after-close", () => unread.GetEnumerator());
    }

    [Fact]
    public void ALazyBodyThatEndsWithoutStartResponse_IsCaught()
    {
        static IEnumerable<byte[]> Lazy(IDictionary<string, object?> environ, StartResponse startResponse)
        {
            yield return [];
        }

        AssertRule("start_response.missing", () => Serve(Lazy));
    }

    [Fact]
    public void DisposingTheWrappedBody_DisposesTheAppsOwn_ListOrLazy()
    {
        var disposed = new List<string>();
        var environ = new Dictionary<string, object?>();
        GatewayUtil.SetupTestingDefaults(environ);

        var list = GatewayValidator.Wrap((e, s) =>
        {
            s("200 OK", TextHeaders);
            return new DisposableList(() => disposed.Add("list"));
        })(environ, (s, h, e) => _ => { });
        ((IDisposable)list).Dispose();

        Assert.Equal(["list"], disposed);
    }

    [Fact]
    public void PassesWithoutScriptName_WhenPathInfoIsThere_AsWsgirefDoes()
    {
        // PEP 3333: SCRIPT_NAME and PATH_INFO may each be missing; one of them must be there.
        Assert.Equal("ok", Encoding.UTF8.GetString(Serve(Good, e => e.Remove("SCRIPT_NAME")).Single()));
        Assert.Equal("ok", Encoding.UTF8.GetString(Serve(Good, e => e.Remove("PATH_INFO")).Single()));
    }

    [Fact]
    public void TwoContentTypeHeaders_AreNotTheValidatorsBusiness_AsInWsgiref()
    {
        var sent = Serve((e, s) =>
        {
            s("200 OK", [("Content-Type", "text/plain"), ("content-type", "text/html")]);
            return [Encoding.UTF8.GetBytes("ok")];
        });

        Assert.Equal("ok", Encoding.UTF8.GetString(sent.Single()));
    }

    [Fact]
    public void AWrongEnvironType_IsNamedInTheMessage()
    {
        var error = Assert.Throws<GatewayValidationException>(() => Serve(Good, e => e["SERVER_PORT"] = 80));

        Assert.Contains("Int32", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void TheExceptionsOwnConstructors_NameNoRule()
    {
        Assert.Equal("unspecified", new GatewayValidationException().Rule);
        Assert.Equal("Gateway rule 'unspecified' broken: no detail", new GatewayValidationException().Message);
        Assert.Equal("unspecified", new GatewayValidationException("message").Rule);
        Assert.Contains("message", new GatewayValidationException("message").Message, StringComparison.Ordinal);
        var inner = new InvalidOperationException();
        var wrapped = new GatewayValidationException("outer", inner);
        Assert.Equal("unspecified", wrapped.Rule);
        Assert.Same(inner, wrapped.InnerException);
        Assert.Equal("status.format", new GatewayValidationException("status.format", "bad").Rule);
    }

    private sealed class DisposableList(Action onDispose) : List<byte[]>, IDisposable
    {
        public void Dispose() => onDispose();
    }

    [Fact]
    public void GoodApp_PassesThroughUnchanged()
    {
        static IEnumerable<byte[]> Streaming(IDictionary<string, object?> environ, StartResponse startResponse)
        {
            var write = startResponse("200 OK", TextHeaders);
            write(Encoding.UTF8.GetBytes("w"));
            var input = (Stream)environ["wsgi.input"]!;
            using var reader = new StreamReader(input, leaveOpen: true);
            ((TextWriter)environ["wsgi.errors"]!).WriteLine(reader.ReadToEnd());
            yield return Encoding.UTF8.GetBytes("a");
            yield return [];
            yield return Encoding.UTF8.GetBytes("b");
        }

        var sent = Serve(Streaming);
        Assert.Equal("wab", string.Concat(sent.Select(Encoding.UTF8.GetString)));
        Assert.Equal("ok", Encoding.UTF8.GetString(Serve(Good).Single()));
    }

    [Fact]
    public void ExcInfoAfterHeadersSent_IsRethrownByTheServerNotFlaggedByTheValidator()
    {
        var environ = new Dictionary<string, object?>();
        GatewayUtil.SetupTestingDefaults(environ);
        var state = Responses.Detached();
        var original = new TimeoutException("original");

        var app = GatewayValidator.Wrap((e, s) =>
        {
            s("200 OK", TextHeaders);
            state.MarkHeadersSent();
            s("500 Oops", TextHeaders, original);
            return [];
        });

        Assert.Same(original, Assert.Throws<TimeoutException>(() => app(environ, state.StartResponse)));
    }
}
