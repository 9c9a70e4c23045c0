using System.Net;
using System.Security.Claims;
using GatewayBridge.Tests.Infrastructure;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Http.Features;

namespace GatewayBridge.Tests;

public class EnvironTableTests
{
    private static EnvironDictionary Build(DefaultHttpContext context, bool allowUnderscores = false, string scriptName = "", string? pathInfo = null) =>
        new(context, scriptName, pathInfo ?? context.Request.Path.Value ?? "", Stream.Null, allowUnderscores);

    private static DefaultHttpContext Context(Action<HttpRequest>? configure = null)
    {
        var context = new DefaultHttpContext();
        context.Request.Method = "GET";
        context.Request.Scheme = "http";
        context.Request.Protocol = "HTTP/1.1";
        context.Request.Path = "/hello";
        configure?.Invoke(context.Request);
        return context;
    }

    [Theory]
    [InlineData("Accept", "HTTP_ACCEPT")]
    [InlineData("user-agent", "HTTP_USER_AGENT")]
    [InlineData("X-Forwarded-For", "HTTP_X_FORWARDED_FOR")]
    [InlineData("X-Custom-Header-2", "HTTP_X_CUSTOM_HEADER_2")]
    public void HeaderKey_MapsNameToUpperCaseWithUnderscores(string header, string key)
    {
        Assert.Equal(key, HeaderKeys.For(header));
        Assert.Equal(key, HeaderKeys.Compute(header));
    }

    [Fact]
    public void Build_HasEveryKeyOfTheContractWithItsType()
    {
        var context = Context(r =>
        {
            r.QueryString = new QueryString("?a=1");
            r.Host = new HostString("example.com:8080");
        });
        context.Connection.RemoteIpAddress = IPAddress.Parse("10.1.2.3");
        context.Connection.RemotePort = 50123;

        var environ = Build(context);

        Assert.Equal("GET", environ[Environ.RequestMethod]);
        Assert.Equal("", environ[Environ.ScriptName]);
        Assert.Equal("/hello", environ[Environ.PathInfo]);
        Assert.Equal("a=1", environ[Environ.QueryString]);
        Assert.Equal("example.com", environ[Environ.ServerName]);
        Assert.Equal("8080", environ[Environ.ServerPort]);
        Assert.Equal("HTTP/1.1", environ[Environ.ServerProtocol]);
        Assert.Equal("10.1.2.3", environ[Environ.RemoteAddr]);
        Assert.Equal("50123", environ[Environ.RemotePort]);
        Assert.Equal("/hello?a=1", environ[Environ.RequestUri]);
        Assert.Equal((1, 0), Assert.IsType<ValueTuple<int, int>>(environ[Environ.Version]));
        Assert.Equal("http", environ[Environ.UrlScheme]);
        Assert.IsAssignableFrom<Stream>(environ[Environ.Input]);
        Assert.IsAssignableFrom<TextWriter>(environ[Environ.Errors]);
        Assert.Equal(true, environ[Environ.Multithread]);
        Assert.Equal(false, environ[Environ.Multiprocess]);
        Assert.Equal(false, environ[Environ.RunOnce]);
        Assert.IsType<Func<Stream, int, IEnumerable<byte[]>>>(environ[Environ.FileWrapper]);
        Assert.Equal(true, environ[Environ.InputTerminated]);
        Assert.Same(context, environ[Environ.HttpContext]);
        Assert.IsType<CancellationToken>(environ[Environ.RequestAborted]);
        Assert.Equal("example.com:8080", environ["HTTP_HOST"]);

        Assert.False(environ.ContainsKey(Environ.ContentType));
        Assert.False(environ.ContainsKey(Environ.ContentLength));
        Assert.False(environ.ContainsKey(Environ.RemoteUser));
        Assert.False(environ.ContainsKey(Environ.Https));
    }

    [Theory]
    [InlineData("", "")]
    [InlineData("?", "")]
    [InlineData("?a=1&b=%20x", "a=1&b=%20x")]
    [InlineData("?q=a+b&q=c", "q=a+b&q=c")]
    [InlineData("?a=1#frag", "a=1")]
    public void QueryString_IsRawWithoutMarkOrFragment(string query, string expected)
    {
        var environ = Build(Context(r => r.QueryString = new QueryString(query)));
        Assert.Equal(expected, environ[Environ.QueryString]);
    }

    [Theory]
    [InlineData("http", "example.com", "example.com", "80")]
    [InlineData("https", "example.com", "example.com", "443")]
    [InlineData("http", "example.com:8080", "example.com", "8080")]
    [InlineData("http", "[::1]:5000", "[::1]", "5000")]
    [InlineData("http", "", "127.0.0.5", "6000")]
    public void ServerNameAndPort_ComeFromHostElseLocalEndpoint(string scheme, string host, string name, string port)
    {
        var context = Context(r =>
        {
            r.Scheme = scheme;
            if (host.Length > 0)
            {
                r.Host = new HostString(host);
            }
        });
        context.Connection.LocalIpAddress = IPAddress.Parse("127.0.0.5");
        context.Connection.LocalPort = 6000;

        var environ = Build(context);

        Assert.Equal(name, environ[Environ.ServerName]);
        Assert.Equal(port, environ[Environ.ServerPort]);
    }

    [Fact]
    public void ContentHeaders_AppearOnlyAsCgiKeys()
    {
        var environ = Build(Context(r =>
        {
            r.Method = "POST";
            r.ContentType = "application/json";
            r.ContentLength = 12;
        }));

        Assert.Equal("application/json", environ[Environ.ContentType]);
        Assert.Equal("12", environ[Environ.ContentLength]);
        Assert.False(environ.ContainsKey("HTTP_CONTENT_TYPE"));
        Assert.False(environ.ContainsKey("HTTP_CONTENT_LENGTH"));
    }

    [Theory]
    [InlineData("Accept", new[] { "text/html", "application/json" }, "HTTP_ACCEPT", "text/html,application/json")]
    [InlineData("Cookie", new[] { "a=1", "b=2" }, "HTTP_COOKIE", "a=1; b=2")]
    [InlineData("X-One", new[] { "only" }, "HTTP_X_ONE", "only")]
    public void RepeatedHeaders_AreJoined(string name, string[] values, string key, string expected)
    {
        var environ = Build(Context(r => r.Headers[name] = values));
        Assert.Equal(expected, environ[key]);
    }

    [Fact]
    public void UnderscoreHeaders_AreDroppedByDefault()
    {
        var environ = Build(Context(r =>
        {
            r.Headers["X_Forwarded_For"] = "6.6.6.6";
            r.Headers["X-Real"] = "1";
        }));

        Assert.False(environ.ContainsKey("HTTP_X_FORWARDED_FOR"));
        Assert.Equal("1", environ["HTTP_X_REAL"]);
    }

    [Theory]
    [InlineData("X-Token", "X_Token")]
    [InlineData("X_Token", "X-Token")]
    public void UnderscoreHeaders_AreKeptWhenAllowed_AndMergeWithTheirDashTwin_InEitherOrder(string first, string second)
    {
        var environ = Build(
            Context(r =>
            {
                r.Headers[first] = "first";
                r.Headers[second] = "second";
            }),
            allowUnderscores: true);

        Assert.Equal("first,second", environ["HTTP_X_TOKEN"]);
        Assert.Single(environ, pair => pair.Key == "HTTP_X_TOKEN");
    }

    [Fact]
    public void RemoteUser_IsSetOnlyForAnAuthenticatedUser()
    {
        var anonymous = Context();
        anonymous.User = new ClaimsPrincipal(new ClaimsIdentity());
        Assert.False(Build(anonymous).ContainsKey(Environ.RemoteUser));

        var signedIn = Context();
        signedIn.User = new ClaimsPrincipal(new ClaimsIdentity([new Claim(ClaimTypes.Name, "alice")], "Test"));
        Assert.Equal("alice", Build(signedIn)[Environ.RemoteUser]);
    }

    [Fact]
    public void Https_IsOnOnlyOverTls()
    {
        Assert.Equal("on", Build(Context(r => r.Scheme = "https"))[Environ.Https]);
        Assert.Equal("https", Build(Context(r => r.Scheme = "https"))[Environ.UrlScheme]);
        Assert.False(Build(Context()).ContainsKey(Environ.Https));
    }

    [Fact]
    public void RemoteAddr_ShowsIpv4MappedAddressesAsIpv4()
    {
        var context = Context();
        context.Connection.RemoteIpAddress = IPAddress.Parse("::ffff:192.0.2.7");
        Assert.Equal("192.0.2.7", Build(context)[Environ.RemoteAddr]);
    }

    [Fact]
    public void RemoteAddr_IsAbsentWithoutAPeer()
    {
        var environ = Build(Context());
        Assert.False(environ.ContainsKey(Environ.RemoteAddr));
        Assert.False(environ.ContainsKey(Environ.RemotePort));
    }

    [Fact]
    public void RequestUri_IsTheRawTargetWhenTheServerHasOne()
    {
        var context = Context(r => r.Path = "/a b");
        context.Features.Get<IHttpRequestFeature>()!.RawTarget = "/a%20b?x=%2F";
        Assert.Equal("/a%20b?x=%2F", Build(context)[Environ.RequestUri]);
    }

    [Fact]
    public void Values_AreReadFromTheRequestOnFirstUse_ThenKept()
    {
        var context = Context(r => r.Host = new HostString("before.example:81"));
        var environ = Build(context);
        context.Request.Headers["X-Early"] = "1";
        Assert.Equal("before.example", environ[Environ.ServerName]);
        Assert.Equal("1", environ["HTTP_X_EARLY"]);

        context.Request.Host = new HostString("after.example:82");
        context.Request.Headers["X-Late"] = "1";

        Assert.Equal("before.example", environ[Environ.ServerName]);
        Assert.Equal("82", environ[Environ.ServerPort]);
        Assert.False(environ.ContainsKey("HTTP_X_LATE"));
    }

    [Fact]
    public void TheTable_EnvironConstantsAndTheContract_NameTheSameKeysWithTheSameTypes()
    {
        var table = EnvironTable.Keys.Select(k => k.Name).ToList();
        var constants = typeof(Environ).GetFields()
            .Where(f => f.IsLiteral && f.Name != nameof(Environ.HttpHeaderPrefix))
            .Select(f => (string)f.GetRawConstantValue()!);
        Assert.Equal(table.Order(), constants.Order());
        Assert.Equal(table.Count, table.Distinct().Count());

        // Section 3's table: "| `KEY`, `KEY2` | type | value |"; the bridge's own keys are extras the contract allows.
        var contract = RepositoryFiles.Section(RepositoryFiles.ReadContract(), "## 3.");
        var rows = contract.Split('\n').Where(l => l.StartsWith("| `", StringComparison.Ordinal)).ToList();
        Assert.NotEmpty(rows);
        var environ = FullEnviron();
        foreach (var row in rows)
        {
            var cells = row.Split('|');
            var type = ContractType(cells[2].Trim().Trim('`'));
            foreach (var key in cells[1].Split('`').Where((_, i) => i % 2 == 1))
            {
                if (key == "HTTP_*")
                {
                    Assert.IsType(type, environ["HTTP_ACCEPT"]);
                    continue;
                }

                Assert.Contains(key, table);
                Assert.True(environ.ContainsKey(key), $"The full environ lacks {key}.");
                Assert.IsAssignableFrom(type, environ[key]);
            }
        }

        Assert.All(table.Where(k => !rows.Any(r => r.Contains($"`{k}`", StringComparison.Ordinal))), k => Assert.StartsWith("gatewaybridge.", k, StringComparison.Ordinal));
    }

    // A request for which every key of the table is present.
    private static EnvironDictionary FullEnviron()
    {
        var context = Context(r =>
        {
            r.Method = "POST";
            r.Scheme = "https";
            r.ContentType = "text/plain";
            r.ContentLength = 1;
            r.Headers.Accept = "*/*";
        });
        context.Connection.RemoteIpAddress = IPAddress.Loopback;
        context.User = new ClaimsPrincipal(new ClaimsIdentity([new Claim(ClaimTypes.Name, "alice")], "Test"));
        return Build(context);
    }

    private static Type ContractType(string text) => text switch
    {
        "string" => typeof(string),
        "bool" => typeof(bool),
        "ValueTuple<int, int>" => typeof(ValueTuple<int, int>),
        "System.IO.Stream" => typeof(Stream),
        "System.IO.TextWriter" => typeof(TextWriter),
        "Func<Stream, int, IEnumerable<byte[]>>" => typeof(Func<Stream, int, IEnumerable<byte[]>>),
        _ => throw new InvalidOperationException($"The contract names a type this test does not know: '{text}'."),
    };
}
