using System.Text.RegularExpressions;
using GatewayBridge.Tests.Infrastructure;

namespace GatewayBridge.Tests;

public partial class GatewayServerTests
{
    [Fact]
    public async Task MakeServer_OnPortZero_BindsAFreePort_ServesAndLogsAccessLines()
    {
        await using var server = GatewayServer.MakeServer("127.0.0.1", 0, GatewayValidator.Wrap(Apps.Echo(Environ.PathInfo)));
        var log = new StringWriter();
        server.Log = log;
        using var stop = new CancellationTokenSource();
        var running = server.RunAsync(stop.Token);

        Assert.True(server.Port > 0);
        using var client = new HttpClient { BaseAddress = new Uri(server.Url) };
        Assert.Equal("/hello/world", await client.GetStringAsync("/hello/world?x=1"));

        stop.Cancel();
        await running.WaitAsync(TimeSpan.FromSeconds(10));

        var lines = log.ToString().Split(Environment.NewLine, StringSplitOptions.RemoveEmptyEntries);
        Assert.Equal($"Serving on http://127.0.0.1:{server.Port}", lines[0]);
        Assert.Matches(AccessLine(), lines[1]);
        Assert.EndsWith("\"GET /hello/world?x=1 HTTP/1.1\" 200 12", lines[1], StringComparison.Ordinal);
    }

    [Fact]
    public async Task MakeServer_ForLocalhostOnPortZero_Works()
    {
        await using var server = GatewayServer.MakeServer("localhost", 0, Apps.Echo(Environ.ServerName));
        server.Log = TextWriter.Null;
        using var client = new HttpClient();
        Assert.Equal("127.0.0.1", await client.GetStringAsync($"http://127.0.0.1:{server.Port}/"));
    }

    [Theory]
    [InlineData("", "http://0.0.0.0:")]
    [InlineData("*", "http://*:")]
    [InlineData("0.0.0.0", "http://0.0.0.0:")]
    public async Task MakeServer_ForEveryInterface_AnswersOnLoopback(string host, string urlStart)
    {
        await using var server = GatewayServer.MakeServer(host, 0, Apps.Echo(Environ.PathInfo));

        Assert.Equal($"{urlStart}{server.Port}", server.Url);
        using var client = new HttpClient();
        Assert.Equal("/any", await client.GetStringAsync($"http://127.0.0.1:{server.Port}/any"));
    }

    [Fact]
    public async Task TwoServersOnPortZero_GetPortsOfTheirOwn_AndEachServesItsApp()
    {
        await using var first = GatewayServer.MakeServer("127.0.0.1", 0, Apps.Echo(Environ.PathInfo));
        await using var second = GatewayServer.MakeServer("127.0.0.1", 0, Apps.Echo(Environ.RequestMethod));

        Assert.NotEqual(first.Port, second.Port);
        using var client = new HttpClient();
        Assert.Equal("/one", await client.GetStringAsync(first.Url + "/one"));
        Assert.Equal("GET", await client.GetStringAsync(second.Url + "/two"));
    }

    [Fact]
    public async Task MakeServer_OnAnIPv6Address_PutsItInBrackets()
    {
        await using var server = GatewayServer.MakeServer("::1", 0, Apps.Echo(Environ.PathInfo));

        Assert.Equal($"http://[::1]:{server.Port}", server.Url);
        using var client = new HttpClient();
        Assert.Equal("/six", await client.GetStringAsync(server.Url + "/six"));
    }

    [Fact]
    public async Task ServeForever_ServesUntilTheServerIsStopped()
    {
        var server = GatewayServer.MakeServer("127.0.0.1", 0, Apps.Echo(Environ.PathInfo));
        var log = new StringWriter();
        server.Log = log;
        var serving = Task.Factory.StartNew(server.ServeForever, TaskCreationOptions.LongRunning);
        using var client = new HttpClient { BaseAddress = new Uri(server.Url) };

        Assert.Equal("/forever", await client.GetStringAsync("/forever"));
        Assert.False(serving.IsCompleted);

        await server.DisposeAsync();
        await serving.WaitAsync(TimeSpan.FromSeconds(10));
        Assert.StartsWith($"Serving on {server.Url}{Environment.NewLine}", log.ToString(), StringComparison.Ordinal);
        await Assert.ThrowsAsync<HttpRequestException>(() => client.GetStringAsync("/gone"));
        await server.DisposeAsync();
    }

    [Fact]
    public void MakeServer_RefusesBadArguments()
    {
        Assert.Throws<ArgumentNullException>(() => GatewayServer.MakeServer("127.0.0.1", 0, null!));
        Assert.Throws<ArgumentOutOfRangeException>(() => GatewayServer.MakeServer("127.0.0.1", 70000, Apps.Echo("x")));
    }

    [GeneratedRegex("""^127\.0\.0\.1 - - \[\d{2}/[A-Z][a-z]{2}/\d{4} \d{2}:\d{2}:\d{2}\] "GET .+ HTTP/1\.1" 200 \d+$""")]
    private static partial Regex AccessLine();
}
