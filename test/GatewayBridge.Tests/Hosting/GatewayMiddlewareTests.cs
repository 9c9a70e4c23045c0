using System.Net;
using System.Text;
using GatewayBridge.Tests.Infrastructure;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.Logging;
using static GatewayBridge.Tests.Infrastructure.Apps;

namespace GatewayBridge.Tests;

/// <summary>The middleware in a host: routing first, a fresh environ, failures through ASP.NET's exception handling.</summary>
public class GatewayMiddlewareTests
{
    [Fact]
    public async Task UseGatewayApp_NeedsNoServiceRegistration_AndAnswers()
    {
        await using var host = await TestApp.StartAsync(Echo(Environ.PathInfo));
        var response = await host.Client.GetAsync("/some/path");

        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        Assert.Equal("/some/path", await response.Content.ReadAsStringAsync());
        Assert.Equal("text/plain", response.Content.Headers.ContentType?.ToString());
    }

    [Fact]
    public async Task MappedEndpoints_Win_AndEverythingElseReachesTheGatewayApp()
    {
        await using var host = await TestApp.StartAsync(app =>
        {
            app.MapGet("/api/hello", () => "native");
            app.UseGatewayApp(Echo(Environ.PathInfo));
        });

        Assert.Equal("native", await host.Client.GetStringAsync("/api/hello"));
        Assert.Equal("/api/other", await host.Client.GetStringAsync("/api/other"));
        Assert.Equal("/", await host.Client.GetStringAsync("/"));
    }

    [Fact]
    public async Task MapBranch_GivesScriptNameOfTheBranch()
    {
        await using var host = await TestApp.StartAsync(app =>
            app.Map("/legacy", b => b.UseGatewayApp(EchoMany(Environ.ScriptName, Environ.PathInfo))));

        Assert.Equal("SCRIPT_NAME=/legacy\nPATH_INFO=/a/b", await host.Client.GetStringAsync("/legacy/a/b"));
        Assert.Equal("SCRIPT_NAME=/legacy\nPATH_INFO=", await host.Client.GetStringAsync("/legacy"));
    }

    [Fact]
    public async Task Environ_IsFreshForEveryRequest()
    {
        var seen = new List<string>();
        await using var host = await TestApp.StartAsync((environ, startResponse) =>
        {
            seen.Add(environ.TryGetValue("app.counter", out var v) ? "leaked:" + v : "fresh");
            environ["app.counter"] = 1;
            environ[Environ.PathInfo] = "/changed";
            environ.Remove(Environ.QueryString);
            startResponse("200 OK", [("Content-Type", "text/plain")]);
            return [Bytes((string)environ[Environ.PathInfo]!)];
        });

        await host.Client.GetStringAsync("/a?x=1");
        await host.Client.GetStringAsync("/b?x=1");

        Assert.Equal(["fresh", "fresh"], seen);
    }

    [Fact]
    public async Task ExceptionBeforeAnythingSent_IsA500FromAspNet_AndLogged()
    {
        var calls = 0;
        await using var host = await TestApp.StartAsync((environ, startResponse) =>
        {
            calls++;
            startResponse("200 OK", [("Content-Type", "text/plain"), ("X-Never", "1")]);
            throw new InvalidOperationException("app broke");
        }, kestrel: true);

        var response = await host.Client.GetAsync("/boom");

        Assert.Equal(HttpStatusCode.InternalServerError, response.StatusCode);
        Assert.False(response.Headers.Contains("X-Never"));
        var failure = Assert.Single(await host.Logs.WaitForAsync(e => e.EventId.Name == "GatewayAppFailed"));
        Assert.Equal(LogLevel.Error, failure.Level);
        Assert.Contains("/boom", failure.Message, StringComparison.Ordinal);
        Assert.Equal("app broke", failure.Exception?.Message);
        Assert.Equal(1, calls);
    }

    [Fact]
    public async Task ExceptionBeforeAnythingSent_GoesThroughUseExceptionHandler()
    {
        await using var host = await TestApp.StartAsync(app =>
        {
            app.UseExceptionHandler(new ExceptionHandlerOptions
            {
                ExceptionHandler = context =>
                {
                    context.Response.StatusCode = 503;
                    return context.Response.WriteAsync("handled by ASP.NET");
                },
            });
            app.UseGatewayApp((environ, startResponse) => throw new InvalidOperationException("app broke"));
        });

        var response = await host.Client.GetAsync("/");
        Assert.Equal(HttpStatusCode.ServiceUnavailable, response.StatusCode);
        Assert.Equal("handled by ASP.NET", await response.Content.ReadAsStringAsync());
    }

    [Fact]
    public async Task AppReturningNull_IsAClearError()
    {
        await using var host = await TestApp.StartAsync((environ, startResponse) => null!, kestrel: true, validate: false);

        var response = await host.Client.GetAsync("/");
        Assert.Equal(HttpStatusCode.InternalServerError, response.StatusCode);
        var failure = Assert.Single(await host.Logs.WaitForAsync(e => e.EventId.Name == "GatewayAppFailed"));
        Assert.Contains("returned null", failure.Exception?.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task WsgiErrors_ReachILogger_LineByLine_InTheirOwnCategory()
    {
        await using var host = await TestApp.StartAsync((environ, startResponse) =>
        {
            var errors = (TextWriter)environ[Environ.Errors]!;
            errors.Write("first ");
            errors.WriteLine("line");
            errors.Write("second line\r\nunterminated");
            startResponse("200 OK", [("Content-Type", "text/plain")]);
            return [];
        });

        await host.Client.GetAsync("/");

        var lines = await host.Logs.WaitForAsync(e => e.Category == "GatewayBridge.Errors", 3);
        Assert.Equal(["first line", "second line", "unterminated"], lines.Select(l => l.Message));
    }
}
