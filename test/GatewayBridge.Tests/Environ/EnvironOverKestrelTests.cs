using System.Net;
using System.Text;
using GatewayBridge.Tests.Infrastructure;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Http.Features;
using Microsoft.Extensions.Logging;
using static GatewayBridge.Tests.Infrastructure.Apps;

namespace GatewayBridge.Tests;

/// <summary>The environ over a real socket: raw targets, peers, repeated and underscore headers, a kept environ on a keep-alive connection.</summary>
public class EnvironOverKestrelTests
{
    [Fact]
    public async Task AKeptEnviron_NeverShowsTheNextRequestsValues_OnOneKeepAliveConnection()
    {
        // Kestrel serves the next request on a connection with the same feature objects, so an environ that read
        // from them after its request ended would show the next request's values. Not validated: the validator
        // reads every key up front, which would hide what this checks.
        IDictionary<string, object?>? first = null;
        GatewayApp app = (environ, startResponse) =>
        {
            string body;
            if (first is null)
            {
                first = environ;
                body = (string)environ[Environ.PathInfo]!;
            }
            else
            {
                body = string.Join("|", first[Environ.PathInfo], Read(first, Environ.QueryString), Read(first, "HTTP_X_REQUEST"), environ["HTTP_X_REQUEST"]);
            }

            startResponse("200 OK", [("Content-Type", "text/plain")]);
            return [Bytes(body)];
        };
        await using var host = await TestApp.StartAsync(app, kestrel: true, validate: false);
        using var connection = host.Connect();

        await connection.SendAsync("GET /first?q=1 HTTP/1.1\r\nHost: t\r\nX-Request: one\r\n\r\n");
        await connection.ReadUntilAsync("/first");
        await connection.SendAsync("GET /second?q=2 HTTP/1.1\r\nHost: t\r\nX-Request: two\r\nConnection: close\r\n\r\n");
        var (text, _) = await connection.ReadToCloseAsync();

        Assert.EndsWith("/first|ObjectDisposedException|ObjectDisposedException|two", text, StringComparison.Ordinal);

        static string Read(IDictionary<string, object?> environ, string key)
        {
            try
            {
                return environ[key]?.ToString() ?? "<null>";
            }
            catch (ObjectDisposedException)
            {
                return nameof(ObjectDisposedException);
            }
        }
    }

    [Fact]
    public async Task UnderscoreHeaders_AreDropped_UnlessAllowed()
    {
        var request = "GET / HTTP/1.1\r\nHost: t\r\nX_Forwarded_For: 6.6.6.6\r\nConnection: close\r\n\r\n";
        await using (var host = await TestApp.StartAsync(Echo("HTTP_X_FORWARDED_FOR"), kestrel: true))
        {
            using var connection = host.Connect();
            await connection.SendAsync(request);
            Assert.EndsWith("<absent>", (await connection.ReadToCloseAsync()).Text, StringComparison.Ordinal);
        }

        await using (var host = await TestApp.StartAsync(Echo("HTTP_X_FORWARDED_FOR"), kestrel: true, o => o.AllowUnderscoreHeaders = true))
        {
            using var connection = host.Connect();
            await connection.SendAsync(request);
            Assert.EndsWith("6.6.6.6", (await connection.ReadToCloseAsync()).Text, StringComparison.Ordinal);
        }
    }

    [Fact]
    public async Task RealSocket_CopiesKnownUnknownAndRepeatedHeaders()
    {
        Dictionary<string, object?>? seen = null;
        await using var host = await TestApp.StartAsync(Capture(environ => seen = environ), kestrel: true, o => o.AllowUnderscoreHeaders = true);
        using var connection = host.Connect();

        await connection.SendAsync(
            "GET / HTTP/1.1\r\nHost: t\r\nAccept: */*\r\nX-Multi: a\r\nCookie: a=1\r\nX-Multi: b\r\n" +
            "Cookie: b=2\r\nX-Some-Long-Custom-Name: v\r\nX-Dup: dash\r\nX_Dup: underscore\r\nConnection: close\r\n\r\n");
        await connection.ReadToCloseAsync();

        Assert.NotNull(seen);
        Assert.Equal("t", seen["HTTP_HOST"]);
        Assert.Equal("*/*", seen["HTTP_ACCEPT"]);
        Assert.Equal("a,b", seen["HTTP_X_MULTI"]);
        Assert.Equal("a=1; b=2", seen["HTTP_COOKIE"]);
        Assert.Equal("v", seen["HTTP_X_SOME_LONG_CUSTOM_NAME"]);
        Assert.Equal("close", seen["HTTP_CONNECTION"]);
        Assert.Equal("dash,underscore", seen["HTTP_X_DUP"]);
        Assert.Equal(7, seen.Keys.Count(k => k.StartsWith("HTTP_", StringComparison.Ordinal)));
    }

    [Fact]
    public async Task RealSocket_FillsRawTargetPeerAndServerKeys()
    {
        await using var host = await TestApp.StartAsync(
            EchoMany(Environ.RequestUri, Environ.PathInfo, Environ.QueryString, Environ.RemoteAddr, Environ.ServerName, Environ.ServerPort, Environ.ServerProtocol, Environ.Input),
            kestrel: true);
        using var connection = host.Connect();

        await connection.SendAsync("GET /a%20b/c%2Fd?x=%2F&y=1 HTTP/1.1\r\nHost: example.test:8443\r\nConnection: close\r\n\r\n");
        var text = (await connection.ReadToCloseAsync()).Text;
        var body = text[(text.IndexOf("\r\n\r\n", StringComparison.Ordinal) + 4)..];
        var values = body.Split('\n').Select(l => l.Split('=', 2)).ToDictionary(p => p[0], p => p[1]);

        Assert.Equal("/a%20b/c%2Fd?x=%2F&y=1", values["REQUEST_URI"]);
        Assert.Equal("/a b/c%2Fd", values["PATH_INFO"]);
        Assert.Equal("x=%2F&y=1", values["QUERY_STRING"]);
        Assert.Equal("127.0.0.1", values["REMOTE_ADDR"]);
        Assert.Equal("example.test", values["SERVER_NAME"]);
        Assert.Equal("8443", values["SERVER_PORT"]);
        Assert.Equal("HTTP/1.1", values["SERVER_PROTOCOL"]);
    }

    [Fact]
    public async Task GetOnKestrel_HasAnEmptyInput_AndARemotePort()
    {
        await using var host = await TestApp.StartAsync(
            (environ, startResponse) =>
            {
                var read = ((Stream)environ[Environ.Input]!).Read(new byte[16], 0, 16);
                startResponse("200 OK", [("Content-Type", "text/plain")]);
                return [Bytes($"{read} {environ[Environ.RemotePort]} {environ.ContainsKey(Environ.ContentLength)}")];
            },
            kestrel: true);

        var parts = (await host.Client.GetStringAsync("/")).Split(' ');
        Assert.Equal("0", parts[0]);
        Assert.True(int.Parse(parts[1], System.Globalization.CultureInfo.InvariantCulture) > 0);
        Assert.Equal("False", parts[2]);
    }

    [Theory]
    [InlineData("/p?a=1#frag", "PATH_INFO=/p\nQUERY_STRING=a=1")]
    [InlineData("/p#frag", "PATH_INFO=/p\nQUERY_STRING=")]
    public async Task FragmentInTheTarget_NeverReachesQueryStringOrPathInfo(string target, string expected)
    {
        await using var host = await TestApp.StartAsync(EchoMany(Environ.PathInfo, Environ.QueryString), kestrel: true);
        using var connection = host.Connect();

        await connection.SendAsync($"GET {target} HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n");
        var text = (await connection.ReadToCloseAsync()).Text;

        Assert.EndsWith("\r\n\r\n" + expected, text, StringComparison.Ordinal);
    }
}
