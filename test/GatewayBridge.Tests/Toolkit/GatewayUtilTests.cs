namespace GatewayBridge.Tests;

/// <summary>The cases CPython's test_wsgiref checks for wsgiref.util, in this contract's terms (UTF-8, not latin-1).</summary>
public class GatewayUtilTests
{
    private static Dictionary<string, object?> Environ(params (string Key, string? Value)[] values)
    {
        var environ = new Dictionary<string, object?>();
        foreach (var (key, value) in values)
        {
            if (value is not null)
            {
                environ[key] = value;
            }
        }

        GatewayUtil.SetupTestingDefaults(environ);
        foreach (var (key, value) in values)
        {
            if (value is null)
            {
                environ.Remove(key);
            }
        }

        return environ;
    }

    [Theory]
    [InlineData("", "/", "", "/", "")]
    [InlineData("", "/x", "x", "/x", "")]
    [InlineData("/", "", null, "/", "")]
    [InlineData("/a", "/x/y", "x", "/a/x", "/y")]
    [InlineData("/a", "/x/", "x", "/a/x", "/")]
    [InlineData("/a/b", "/../y", "..", "/a", "/y")]
    [InlineData("", "/../y", "..", "", "/y")]
    [InlineData("/a/b", "//y", "y", "/a/b/y", "")]
    [InlineData("/a/b", "//y/", "y", "/a/b/y", "/")]
    [InlineData("/a/b", "/./y", "y", "/a/b/y", "")]
    [InlineData("/a/b", "/./y/", "y", "/a/b/y", "/")]
    [InlineData("/a/b", "///./..//y/.//", "..", "/a", "/y/")]
    [InlineData("/a/b", "///", "", "/a/b/", "")]
    [InlineData("/a/b", "/.//", "", "/a/b/", "")]
    [InlineData("/a/b", "/x//", "x", "/a/b/x", "/")]
    [InlineData("/a/b", "/.", null, "/a/b", "")]
    public void ShiftPathInfo_MovesOneSegment(string scriptIn, string pathIn, string? part, string scriptOut, string pathOut)
    {
        var environ = new Dictionary<string, object?> { ["SCRIPT_NAME"] = scriptIn, ["PATH_INFO"] = pathIn };

        Assert.Equal(part, GatewayUtil.ShiftPathInfo(environ));
        Assert.Equal(scriptOut, environ["SCRIPT_NAME"]);
        Assert.Equal(pathOut, environ["PATH_INFO"]);
    }

    [Theory]
    [InlineData("http://127.0.0.1/")]
    [InlineData("http://127.0.0.1/spam", "SCRIPT_NAME", "/spam")]
    [InlineData("http://127.0.0.1/sp%C3%A4m", "SCRIPT_NAME", "/späm")]
    [InlineData("http://spam.example.com:2071/", "HTTP_HOST", "spam.example.com:2071", "SERVER_PORT", "2071")]
    [InlineData("http://spam.example.com/", "SERVER_NAME", "spam.example.com")]
    [InlineData("http://127.0.0.1/", "HTTP_HOST", "127.0.0.1", "SERVER_NAME", "spam.example.com")]
    [InlineData("https://127.0.0.1/", "HTTPS", "on")]
    [InlineData("http://127.0.0.1:8000/", "SERVER_PORT", "8000", "HTTP_HOST", null)]
    [InlineData("https://127.0.0.1:8443/", "HTTPS", "on", "SERVER_PORT", "8443", "HTTP_HOST", null)]
    public void ApplicationUri_RebuildsTheAppRoot(string expected, params string?[] pairs)
    {
        Assert.Equal(expected, GatewayUtil.ApplicationUri(Environ(Pairs(pairs))));
    }

    [Theory]
    [InlineData("http://127.0.0.1/", true)]
    [InlineData("http://127.0.0.1/spam", true, "SCRIPT_NAME", "/spam")]
    [InlineData("http://127.0.0.1/sp%C3%A4m", true, "SCRIPT_NAME", "/späm")]
    [InlineData("http://127.0.0.1/spammity/spam", true, "SCRIPT_NAME", "/spammity", "PATH_INFO", "/spam")]
    [InlineData("http://127.0.0.1/spammity/sp%C3%A4m", true, "SCRIPT_NAME", "/spammity", "PATH_INFO", "/späm")]
    [InlineData("http://127.0.0.1/spammity/spam;ham", true, "SCRIPT_NAME", "/spammity", "PATH_INFO", "/spam;ham")]
    [InlineData("http://127.0.0.1/spammity/spam;cookie=1234,5678", true, "SCRIPT_NAME", "/spammity", "PATH_INFO", "/spam;cookie=1234,5678")]
    [InlineData("http://127.0.0.1/spammity/spam?say=ni", true, "SCRIPT_NAME", "/spammity", "PATH_INFO", "/spam", "QUERY_STRING", "say=ni")]
    [InlineData("http://127.0.0.1/spammity/spam?s%E4y=ni", true, "SCRIPT_NAME", "/spammity", "PATH_INFO", "/spam", "QUERY_STRING", "s%E4y=ni")]
    [InlineData("http://127.0.0.1/spammity/spam", false, "SCRIPT_NAME", "/spammity", "PATH_INFO", "/spam", "QUERY_STRING", "say=ni")]
    [InlineData("http://127.0.0.1/a%2Fb%20c", true, "SCRIPT_NAME", "", "PATH_INFO", "/a%2Fb c")]
    [InlineData("http://127.0.0.1/a%25G1%41%254", true, "SCRIPT_NAME", "", "PATH_INFO", "/a%G1%41%4")]
    public void RequestUri_QuotesPathInfoAndAddsTheQuery(string expected, bool includeQuery, params string?[] pairs)
    {
        Assert.Equal(expected, GatewayUtil.RequestUri(Environ(Pairs(pairs)), includeQuery));
    }

    [Theory]
    [InlineData("on", "https")]
    [InlineData("yes", "https")]
    [InlineData("1", "https")]
    [InlineData("ON", "http")]
    [InlineData("off", "http")]
    [InlineData(null, "http")]
    public void GuessScheme_ReadsHttps(string? https, string expected)
    {
        var environ = new Dictionary<string, object?>();
        if (https is not null)
        {
            environ["HTTPS"] = https;
        }

        Assert.Equal(expected, GatewayUtil.GuessScheme(environ));
    }

    [Fact]
    public void SetupTestingDefaults_FillsAValidEnviron_WithoutOverwriting()
    {
        var environ = new Dictionary<string, object?> { ["REQUEST_METHOD"] = "POST" };
        GatewayUtil.SetupTestingDefaults(environ);

        Assert.Equal("POST", environ["REQUEST_METHOD"]);
        Assert.Equal("127.0.0.1", environ["SERVER_NAME"]);
        Assert.Equal("80", environ["SERVER_PORT"]);
        Assert.Equal("127.0.0.1", environ["HTTP_HOST"]);
        Assert.Equal("HTTP/1.0", environ["SERVER_PROTOCOL"]);
        Assert.Equal("", environ["SCRIPT_NAME"]);
        Assert.Equal("/", environ["PATH_INFO"]);
        Assert.Equal((1, 0), environ["wsgi.version"]);
        Assert.Equal("http", environ["wsgi.url_scheme"]);
        Assert.Equal("", environ["QUERY_STRING"]);
        Assert.Equal(false, environ["wsgi.run_once"]);
        Assert.Equal(false, environ["wsgi.multithread"]);
        Assert.Equal(false, environ["wsgi.multiprocess"]);
        var input = (Stream)environ["wsgi.input"]!;
        Assert.Equal(0, input.Read(new byte[1], 0, 1));
        Assert.False(input.CanWrite);
        Assert.IsAssignableFrom<TextWriter>(environ["wsgi.errors"]);

        var https = new Dictionary<string, object?> { ["HTTPS"] = "on" };
        GatewayUtil.SetupTestingDefaults(https);
        Assert.Equal("https", https["wsgi.url_scheme"]);
        Assert.Equal("443", https["SERVER_PORT"]);
    }

    [Fact]
    public void SetupTestingDefaults_PassesTheValidatorsEnvironChecks()
    {
        var environ = new Dictionary<string, object?>();
        GatewayUtil.SetupTestingDefaults(environ);
        var app = GatewayValidator.Wrap((e, startResponse) =>
        {
            startResponse("200 OK", [("Content-Type", "text/plain")]);
            return [];
        });

        using var body = (IDisposable)app(environ, (status, headers, exc) => _ => { });
        Assert.NotNull(body);
    }

    [Fact]
    public void ShiftPathInfo_WithoutAScriptName_StartsItAtTheRoot()
    {
        var environ = new Dictionary<string, object?> { ["PATH_INFO"] = "/a/b" };

        Assert.Equal("a", GatewayUtil.ShiftPathInfo(environ));
        Assert.Equal("/a", environ["SCRIPT_NAME"]);
        Assert.Equal("/b", environ["PATH_INFO"]);
    }

    [Fact]
    public void ShiftPathInfo_OnAPathInfoWithoutALeadingSlash_ShiftsNoSegment()
    {
        // Section 3 rules such a PATH_INFO out (wsgiref answers it with an IndexError); it must not throw here.
        var environ = new Dictionary<string, object?> { ["SCRIPT_NAME"] = "/app", ["PATH_INFO"] = "rel" };

        Assert.Equal("", GatewayUtil.ShiftPathInfo(environ));
        Assert.Equal("rel", environ["PATH_INFO"]);
    }

    [Fact]
    public void RequestUri_EncodesSurrogates_PairsAsOneCharacter_LoneOnesAsReplacement()
    {
        // A lone surrogate has no UTF-8; it goes out as U+FFFD rather than failing the whole URL.
        (string PathInfo, string Expected)[] cases =
        [
            ("/a" + (char)0xD800 + "b", "http://h/a%EF%BF%BDb"),
            ("/" + (char)0xDC00, "http://h/%EF%BF%BD"),
            ("/" + char.ConvertFromUtf32(0x1F600) + "x", "http://h/%F0%9F%98%80x"),
        ];

        foreach (var (pathInfo, expected) in cases)
        {
            var environ = new Dictionary<string, object?> { ["wsgi.url_scheme"] = "http", ["HTTP_HOST"] = "h", ["PATH_INFO"] = pathInfo };
            Assert.Equal(expected, GatewayUtil.RequestUri(environ, includeQuery: false));
        }
    }

    [Theory]
    [InlineData("Connection", true)]
    [InlineData("keep-alive", true)]
    [InlineData("PROXY-AUTHENTICATE", true)]
    [InlineData("Proxy-Authorization", true)]
    [InlineData("te", true)]
    [InlineData("trailers", true)]
    [InlineData("Transfer-Encoding", true)]
    [InlineData("upgrade", true)]
    [InlineData("Content-Type", false)]
    [InlineData("Content-Length", false)]
    [InlineData("Set-Cookie", false)]
    [InlineData("Te-Extra", false)]
    public void IsHopByHop_KnowsTheHopByHopHeaders(string name, bool expected)
    {
        Assert.Equal(expected, GatewayUtil.IsHopByHop(name));
    }

    private static (string, string?)[] Pairs(string?[] flat) =>
        Enumerable.Range(0, flat.Length / 2).Select(i => (flat[2 * i]!, flat[(2 * i) + 1])).ToArray();
}
