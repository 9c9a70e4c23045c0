using System.Text.Json.Nodes;
using GatewayBridge.Tests.Reference;

namespace GatewayBridge.Tests;

/// <summary>
/// The toolkit against CPython, the reference on every machine here: thousands of generated inputs per run, each
/// answered by GatewayUtil, GatewayForm or ResponseHeaders and by wsgiref.util, urllib.parse or wsgiref.headers.
/// Differences on purpose are excluded from the generators and checked apart below (README lists them).
/// </summary>
public class CPythonDifferentialTests
{
    private const int Cases = 1500;

    // Path text without '%': GatewayUtil keeps an existing %XX escape (PATH_INFO comes from ASP.NET with %2F still
    // encoded), where wsgiref encodes the '%' again. Checked apart in PercentEscapes_AreKept.
    private static readonly string[] PathPieces = ["a", "b", "café", "x y", ";p=1", "=", ",", "@", ":", "~", "!", "$", "&", "'", "(", "+", "中", "😀", "", ".", "..", "A-Z_09"];

    private static string Pick(Random random, string[] from) => from[random.Next(from.Length)];

    private static string Path(Random random, bool allowEmpty = true)
    {
        if (allowEmpty && random.Next(4) == 0)
        {
            return "";
        }

        var segments = Enumerable.Range(0, random.Next(1, 5)).Select(_ => string.Concat(Enumerable.Range(0, random.Next(0, 3)).Select(_ => Pick(random, PathPieces))));
        return "/" + string.Join('/', segments);
    }

    private static Dictionary<string, object?> Environ(Random random)
    {
        // Always a wsgi.url_scheme, which wsgiref requires (a KeyError without one; GatewayUtil guesses it from HTTPS,
        // checked apart in AMissingUrlScheme_IsGuessedFromHttps); HTTPS too, for guess_scheme.
        var environ = new Dictionary<string, object?> { ["wsgi.url_scheme"] = random.Next(2) == 0 ? "http" : "https" };
        if (random.Next(3) > 0)
        {
            environ["HTTPS"] = Pick(random, ["on", "ON", "yes", "1", "off", "0", "no", ""]);
        }

        if (random.Next(2) == 0)
        {
            environ["HTTP_HOST"] = Pick(random, ["example.com", "example.com:8080", "[::1]:5000", "h"]);
        }

        environ["SERVER_NAME"] = Pick(random, ["server.example", "127.0.0.1", "x"]);
        environ["SERVER_PORT"] = Pick(random, ["80", "443", "8000", "8443"]);
        var scriptName = Path(random);
        if (random.Next(8) > 0)
        {
            // Sometimes missing: wsgiref reads it with a default of "".
            environ["SCRIPT_NAME"] = scriptName == "/" ? "" : scriptName;
        }

        environ["PATH_INFO"] = Path(random);
        environ["QUERY_STRING"] = Pick(random, ["", "a=1", "a=1&b=%20x", "q=caf%C3%A9+ok&flag"]);
        return environ;
    }

    private static JsonObject Json(Dictionary<string, object?> environ) =>
        new(environ.Select(p => KeyValuePair.Create(p.Key, (JsonNode?)JsonValue.Create((string?)p.Value))));

    [Fact]
    public async Task RequestUriApplicationUriAndGuessScheme_AgreeWithWsgirefUtil()
    {
        var random = new Random(CPythonReference.Seed);
        var environs = Enumerable.Range(0, Cases).Select(_ => Environ(random)).ToList();
        var requests = new List<JsonObject>();
        var ours = new List<string>();
        foreach (var environ in environs)
        {
            var includeQuery = random.Next(2) == 0;
            requests.Add(new JsonObject { ["op"] = "request_uri", ["environ"] = Json(environ), ["include_query"] = includeQuery });
            ours.Add(GatewayUtil.RequestUri(environ, includeQuery));
            requests.Add(new JsonObject { ["op"] = "application_uri", ["environ"] = Json(environ) });
            ours.Add(GatewayUtil.ApplicationUri(environ));
            requests.Add(new JsonObject { ["op"] = "guess_scheme", ["environ"] = Json(environ) });
            ours.Add(GatewayUtil.GuessScheme(environ));
        }

        var theirs = await CPythonReference.AskAsync(requests);
        AssertAllAgree(requests, ours.Select(o => (JsonNode?)JsonValue.Create(o)).ToList(), theirs);
    }

    [Fact]
    public async Task ShiftPathInfo_AgreesWithWsgirefUtil()
    {
        var random = new Random(CPythonReference.Seed + 1);
        var requests = new List<JsonObject>();
        var ours = new List<JsonNode?>();
        for (var i = 0; i < Cases; i++)
        {
            var environ = Environ(random);
            requests.Add(new JsonObject { ["op"] = "shift_path_info", ["environ"] = Json(environ) });
            var name = GatewayUtil.ShiftPathInfo(environ);
            ours.Add(new JsonArray(name, (string?)environ.GetValueOrDefault("SCRIPT_NAME"), (string?)environ["PATH_INFO"]));
        }

        AssertAllAgree(requests, ours, await CPythonReference.AskAsync(requests));
    }

    [Fact]
    public async Task NormalizePosixPath_AgreesWithPosixpathNormpath()
    {
        // shift_path_info normalises SCRIPT_NAME with posixpath.normpath; relative paths too (an app may set one).
        string[] pieces = ["a", "b", ".", "..", "", "c.d", "..."];
        var random = new Random(CPythonReference.Seed + 5);
        var requests = new List<JsonObject>();
        var ours = new List<JsonNode?>();
        for (var i = 0; i < Cases; i++)
        {
            var path = new string('/', random.Next(0, 4)) + string.Join('/', Enumerable.Range(0, random.Next(0, 6)).Select(_ => Pick(random, pieces)));
            requests.Add(new JsonObject { ["op"] = "normpath", ["path"] = path });
            ours.Add(JsonValue.Create(GatewayUtil.NormalizePosixPath(path)));
        }

        AssertAllAgree(requests, ours, await CPythonReference.AskAsync(requests));
    }

    [Fact]
    public async Task ParseQuery_AgreesWithParseQsl()
    {
        // Any printable character, not only what a server produces (a query string an app builds itself, a test's
        // environ), mixed with pieces that make valid, invalid and non-UTF-8 escapes likely.
        string[] pieces = ["a", "=", "&", "+", "%41", "%20", "%C3%A9", "%2B", "%26", "%3D", "%FF", "%C3", "%zz", "%4", "%", "&&", "=="];
        var printable = Enumerable.Range(0x20, 0x7F - 0x20).Select(c => ((char)c).ToString())
            .Concat(["é", "ß", "\u00a0", "中", "😀", "\u2028"]).ToArray();
        var random = new Random(CPythonReference.Seed + 2);
        var requests = new List<JsonObject>();
        var ours = new List<JsonNode?>();
        for (var i = 0; i < Cases; i++)
        {
            var query = string.Concat(Enumerable.Range(0, random.Next(0, 16)).Select(_ => Pick(random, random.Next(2) == 0 ? pieces : printable)));
            requests.Add(new JsonObject { ["op"] = "parse_qs", ["query"] = query });
            var parsed = GatewayForm.ParseQuery(new Dictionary<string, object?> { [GatewayBridge.Environ.QueryString] = query });
            ours.Add(new JsonObject(parsed.Select(p => KeyValuePair.Create(p.Key, (JsonNode?)new JsonArray(p.Value.Select(v => (JsonNode?)JsonValue.Create(v)).ToArray())))));
        }

        AssertAllAgree(requests, ours, await CPythonReference.AskAsync(requests));
    }

    [Fact]
    public async Task ResponseHeaders_AgreeWithWsgirefHeaders()
    {
        // ASCII values only: a non-ASCII parameter goes out as RFC 8187 name*=UTF-8''..., checked apart below. Each
        // parameter name once per header: wsgiref takes them as keyword arguments, which cannot repeat.
        string[] names = ["Content-Type", "content-type", "X-A", "x-a", "Set-Cookie", "Cache-Control", "Content-Disposition"];
        string[] values = ["text/plain", "a b", "x;y", "", "q\"uote", "back\\slash", "no-cache", "1"];
        string[] parameterNames = ["filename", "max_age", "charset", "q"];
        var random = new Random(CPythonReference.Seed + 3);
        var requests = new List<JsonObject>();
        var ours = new List<JsonNode?>();
        for (var i = 0; i < Cases; i++)
        {
            var initial = Enumerable.Range(0, random.Next(0, 4)).Select(_ => (Pick(random, names), Pick(random, values))).ToList();
            var added = Enumerable.Range(0, random.Next(0, 3)).Select(_ => (Name: Pick(random, names), Value: random.Next(4) == 0 ? null : Pick(random, values),
                Parameters: parameterNames.OrderBy(_ => random.Next()).Take(random.Next(0, 3)).Select(p => (p, random.Next(4) == 0 ? null : Pick(random, values))).ToArray())).ToList();
            var defaults = Enumerable.Range(0, random.Next(0, 2)).Select(_ => (Pick(random, names), Pick(random, values))).ToList();
            var deleted = Enumerable.Range(0, random.Next(0, 2)).Select(_ => Pick(random, names)).ToList();
            var asked = names.Take(3).ToList();

            var headers = new ResponseHeaders(initial);
            foreach (var (name, value, parameters) in added)
            {
                headers.AddHeader(name, value, parameters);
            }

            foreach (var (name, value) in defaults)
            {
                headers.SetDefault(name, value);
            }

            foreach (var name in deleted)
            {
                headers.Remove(name);
            }

            ours.Add(new JsonObject
            {
                ["items"] = new JsonArray(headers.Items().Select(h => (JsonNode?)new JsonArray(h.Name, h.Value)).ToArray()),
                ["str"] = headers.ToString(),
                ["get_all"] = new JsonObject(asked.Select(n => KeyValuePair.Create(n, (JsonNode?)new JsonArray(headers.GetAll(n).Select(v => (JsonNode?)JsonValue.Create(v)).ToArray())))),
            });
            requests.Add(new JsonObject
            {
                ["op"] = "headers",
                ["headers"] = new JsonArray(initial.Select(h => (JsonNode?)new JsonArray(h.Item1, h.Item2)).ToArray()),
                ["add"] = new JsonArray(added.Select(a => (JsonNode?)new JsonArray(a.Name, a.Value, new JsonArray(a.Parameters.Select(p => (JsonNode?)new JsonArray(p.Item1, p.Item2)).ToArray()))).ToArray()),
                ["setdefault"] = new JsonArray(defaults.Select(d => (JsonNode?)new JsonArray(d.Item1, d.Item2)).ToArray()),
                ["delete"] = new JsonArray(deleted.Select(d => (JsonNode?)JsonValue.Create(d)).ToArray()),
                ["ask"] = new JsonArray(asked.Select(a => (JsonNode?)JsonValue.Create(a)).ToArray()),
            });
        }

        AssertAllAgree(requests, ours, await CPythonReference.AskAsync(requests));
    }

    [Fact]
    public void ANonAsciiParameter_GoesOutAsRfc8187_WhereWsgirefWouldSendRawText()
    {
        var headers = new ResponseHeaders();
        headers.AddHeader("Content-Disposition", "attachment", ("filename", "résumé.pdf"));
        Assert.Equal("attachment; filename*=UTF-8''r%C3%A9sum%C3%A9.pdf", headers["Content-Disposition"]);
    }

    [Fact]
    public async Task AMissingUrlScheme_IsGuessedFromHttps_WhereWsgirefRaises()
    {
        var environ = new Dictionary<string, object?> { ["HTTPS"] = "on", ["HTTP_HOST"] = "h", ["SCRIPT_NAME"] = "", ["PATH_INFO"] = "/p" };
        var theirs = await CPythonReference.AskAsync([new JsonObject { ["op"] = "application_uri", ["environ"] = Json(environ) }]);

        Assert.Equal("https://h/", GatewayUtil.ApplicationUri(environ));
        Assert.Equal("KeyError", (string?)theirs[0]!["error"]);
    }

    [Theory]
    [InlineData("/a%4")]
    [InlineData("/%")]
    [InlineData("/%zz")]
    [InlineData("/%4g/b")]
    public async Task APercentThatStartsNoEscape_IsEncoded_AsWsgirefDoes(string pathInfo)
    {
        var environ = new Dictionary<string, object?> { ["wsgi.url_scheme"] = "http", ["HTTP_HOST"] = "h", ["SCRIPT_NAME"] = "", ["PATH_INFO"] = pathInfo };
        var theirs = await CPythonReference.AskAsync([new JsonObject { ["op"] = "request_uri", ["environ"] = Json(environ), ["include_query"] = false }]);

        Assert.Equal((string?)theirs[0]!["ok"], GatewayUtil.RequestUri(environ, includeQuery: false));
    }

    [Fact]
    public async Task PercentEscapes_AreKept_WhereWsgirefEncodesThePercentAgain()
    {
        // On purpose: ASP.NET keeps %2F encoded in PATH_INFO so that a path means the same to routing and the app;
        // encoding its '%' again would turn it into a different path.
        var environ = new Dictionary<string, object?> { ["wsgi.url_scheme"] = "http", ["HTTP_HOST"] = "h", ["SCRIPT_NAME"] = "", ["PATH_INFO"] = "/a%2Fb" };
        var theirs = await CPythonReference.AskAsync([new JsonObject { ["op"] = "request_uri", ["environ"] = Json(environ), ["include_query"] = false }]);

        Assert.Equal("http://h/a%2Fb", GatewayUtil.RequestUri(environ, includeQuery: false));
        Assert.Equal("http://h/a%252Fb", (string?)theirs[0]!["ok"]);
    }

    private static void AssertAllAgree(List<JsonObject> requests, List<JsonNode?> ours, List<JsonNode?> theirs)
    {
        var disagreements = new List<string>();
        for (var i = 0; i < requests.Count; i++)
        {
            var reference = theirs[i]!["ok"] ?? JsonValue.Create("error: " + (string?)theirs[i]!["error"]);
            if (!JsonNode.DeepEquals(ours[i], reference))
            {
                disagreements.Add($"{CPythonReference.Show(requests[i])}\n    ours:    {CPythonReference.Show(ours[i])}\n    CPython: {CPythonReference.Show(reference)}");
            }
        }

        Assert.True(disagreements.Count == 0, $"seed {CPythonReference.Seed}: {disagreements.Count} of {requests.Count} differ, first ones:\n{string.Join("\n", disagreements.Take(5))}");
    }
}
