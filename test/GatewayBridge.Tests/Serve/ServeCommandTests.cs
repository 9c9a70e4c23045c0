extern alias HelloGateway;

using System.Text;
using GatewayBridge.Serve;
using Microsoft.AspNetCore.Builder;

namespace GatewayBridge.Tests;

/// <summary>Apps the serve tool's loader is pointed at; public because it looks them up by name.</summary>
public static class ServeFixtures
{
    public static IEnumerable<byte[]> Good(IDictionary<string, object?> environ, StartResponse startResponse)
    {
        startResponse("200 OK", [("Content-Type", "text/plain")]);
        return [Encoding.UTF8.GetBytes("fixture")];
    }

    public static string WrongSignature(IDictionary<string, object?> environ) => "no";

    /// <summary>Breaks one validator rule only (no Content-Type): a 500 with --validate, served without it.</summary>
    public static IEnumerable<byte[]> NoContentType(IDictionary<string, object?> environ, StartResponse startResponse)
    {
        startResponse("200 OK", []);
        return [Encoding.UTF8.GetBytes("unchecked")];
    }

    public static IEnumerable<byte[]> RemoteAddr(IDictionary<string, object?> environ, StartResponse startResponse)
    {
        startResponse("200 OK", [("Content-Type", "text/plain")]);
        return [Encoding.UTF8.GetBytes($"{environ[Environ.RemoteAddr]} {environ[Environ.UrlScheme]}")];
    }

#pragma warning disable CA1822 // Instance on purpose: the loader must refuse it.
    public sealed class Holder
    {
        public IEnumerable<byte[]> NotStatic(IDictionary<string, object?> environ, StartResponse startResponse) => [];
    }
#pragma warning restore CA1822
}

public class ServeCommandTests
{
    private static readonly string HelloDll = typeof(HelloGateway::HelloGateway.HelloApp).Assembly.Location;
    private static readonly string TestsDll = typeof(ServeFixtures).Assembly.Location;

    [Fact]
    public async Task Serve_LoadsTheAppFromItsAssembly_AndServesIt()
    {
        var app = AppLoader.Load(HelloDll, "HelloGateway.HelloApp.Handle");
        var arguments = ServeArguments.Parse(["serve", HelloDll, "HelloGateway.HelloApp.Handle", "--urls", "http://127.0.0.1:0", "--validate"]);
        await using var web = ServeCommand.Build(app, arguments);
        await web.StartAsync();

        using var client = new HttpClient { BaseAddress = new Uri(web.Urls.Single()) };
        Assert.Equal("<h1>Hello, bob!</h1>", await client.GetStringAsync("/bob"));
        await web.StopAsync();
    }

    [Fact]
    public async Task Serve_RunsEndToEnd_UntilCancelled()
    {
        var output = new StringWriter();
        using var stop = new CancellationTokenSource();
        var run = ServeCommand.RunAsync(["serve", TestsDll, "GatewayBridge.Tests.ServeFixtures.Good", "--urls", "http://127.0.0.1:0"], output, TextWriter.Null, stop.Token);

        var url = await Eventually.ReturnsAsync(
            () =>
            {
                var line = output.ToString();
                var at = line.IndexOf("http://", StringComparison.Ordinal);
                return Task.FromResult(at >= 0 ? line[at..].Trim() : null);
            },
            url => url is not null,
            "the tool saying where it serves");
        using var client = new HttpClient();
        Assert.Equal("fixture", await client.GetStringAsync(url));
        stop.Cancel();
        Assert.Equal(0, await run.WaitAsync(TimeSpan.FromSeconds(10)));
    }

    [Theory]
    [InlineData("GatewayBridge.Tests.ServeFixtures.Missing", "has no method 'Missing'")]
    [InlineData("GatewayBridge.Tests.NoSuchType.Handle", "has no type 'GatewayBridge.Tests.NoSuchType'")]
    [InlineData("GatewayBridge.Tests.ServeFixtures.WrongSignature", "wrong signature")]
    [InlineData("GatewayBridge.Tests.ServeFixtures+Holder.NotStatic", "instance method")]
    [InlineData("NoDots", "Namespace.Type.Method")]
    public async Task Serve_ExplainsWhyAnAppCannotBeLoaded(string method, string expected)
    {
        var error = new StringWriter();
        var exit = await ServeCommand.RunAsync(["serve", TestsDll, method], TextWriter.Null, error);

        Assert.Equal(2, exit);
        Assert.Contains(expected, error.ToString(), StringComparison.Ordinal);
    }

    [Fact]
    public async Task Serve_ExplainsAMissingAssemblyAndBadUsage()
    {
        var error = new StringWriter();
        Assert.Equal(2, await ServeCommand.RunAsync(["serve", "/nope/App.dll", "A.B.C"], TextWriter.Null, error));
        Assert.Contains("No assembly at", error.ToString(), StringComparison.Ordinal);

        error = new StringWriter();
        Assert.Equal(2, await ServeCommand.RunAsync(["serve"], TextWriter.Null, error));
        Assert.Contains("Expected: serve <module:callable>", error.ToString(), StringComparison.Ordinal);
        Assert.Contains("--help lists every option", error.ToString(), StringComparison.Ordinal);

        error = new StringWriter();
        Assert.Equal(2, await ServeCommand.RunAsync(["serve", "a.dll", "A.B.C", "--python", "/usr/bin/python3"], TextWriter.Null, error));
        Assert.Contains("--python is for Python apps", error.ToString(), StringComparison.Ordinal);

        error = new StringWriter();
        Assert.Equal(2, await ServeCommand.RunAsync(["serve", "a.dll", "A.B.C", "--bogus"], TextWriter.Null, error));
        Assert.StartsWith("error: Unknown option '--bogus'; did you mean", error.ToString(), StringComparison.Ordinal);
    }

    [Theory]
    [InlineData(false, "200 unchecked")]
    [InlineData(true, "500 ")]
    public async Task Validate_ChecksEveryCall(bool validate, string expected)
    {
        var app = AppLoader.Load(TestsDll, "GatewayBridge.Tests.ServeFixtures.NoContentType");
        string[] args = ["serve", TestsDll, "GatewayBridge.Tests.ServeFixtures.NoContentType", "--urls", "http://127.0.0.1:0", .. validate ? new[] { "--validate" } : []];
        await using var web = ServeCommand.Build(app, ServeArguments.Parse(args));
        await web.StartAsync();
        using var client = new HttpClient { BaseAddress = new Uri(web.Urls.Single()) };

        var response = await client.GetAsync("/");
        Assert.Equal(expected, $"{(int)response.StatusCode} {await response.Content.ReadAsStringAsync()}");
        await web.StopAsync();
    }

    [Theory]
    [InlineData(false, "127.0.0.1 http")]
    [InlineData(true, "203.0.113.7 https")]
    public async Task ForwardedHeaders_AreTrustedFromLoopbackProxiesOnlyWhenAsked(bool forwarded, string expected)
    {
        var app = AppLoader.Load(TestsDll, "GatewayBridge.Tests.ServeFixtures.RemoteAddr");
        string[] args = ["serve", TestsDll, "GatewayBridge.Tests.ServeFixtures.RemoteAddr", "--urls", "http://127.0.0.1:0", .. forwarded ? new[] { "--forwarded-headers" } : []];
        await using var web = ServeCommand.Build(app, ServeArguments.Parse(args));
        await web.StartAsync();
        using var client = new HttpClient { BaseAddress = new Uri(web.Urls.Single()) };
        using var request = new HttpRequestMessage(HttpMethod.Get, "/");
        request.Headers.Add("X-Forwarded-For", "203.0.113.7");
        request.Headers.Add("X-Forwarded-Proto", "https");

        Assert.Equal(expected, await (await client.SendAsync(request)).Content.ReadAsStringAsync());
        await web.StopAsync();
    }

    [Fact]
    public void Arguments_HaveProductionDefaults()
    {
        var parsed = ServeArguments.Parse(["serve", "a.dll", "A.B.C"]);
        Assert.Equal("http://127.0.0.1:8000", parsed.Urls);
        Assert.False(parsed.Validate);
        Assert.False(parsed.ForwardedHeaders);
    }
}
