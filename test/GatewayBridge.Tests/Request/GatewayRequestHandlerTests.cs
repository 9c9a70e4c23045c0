using System.Diagnostics.Metrics;
using GatewayBridge.Tests.Infrastructure;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using static GatewayBridge.Tests.Infrastructure.Apps;

namespace GatewayBridge.Tests;

/// <summary>The handler behind every entry point: how it is built, where it mounts an app, and how it ends.</summary>
public class GatewayRequestHandlerTests
{
    private static readonly GatewayApp ReturnsNull = (environ, startResponse) => null!;

    [Fact]
    public async Task OnABareServiceProvider_ItRuns_WithoutTheValidator()
    {
        // No host environment, logging or metrics registered: the handler still works, unvalidated.
        using var handler = GatewayHandlerFactory.Create(new ServiceCollection().BuildServiceProvider(), ReturnsNull, _ => { });

        var error = await Assert.ThrowsAnyAsync<Exception>(() => handler.HandleAsync(Request(), "", "/"));

        Assert.IsType<InvalidOperationException>(error);
    }

    [Fact]
    public async Task InDevelopment_TheValidatorIsOnByDefault()
    {
        var services = new ServiceCollection().AddSingleton<IHostEnvironment>(new Environment("Development")).BuildServiceProvider();
        using var handler = GatewayHandlerFactory.Create(services, ReturnsNull, _ => { });

        var error = await Assert.ThrowsAsync<GatewayValidationException>(() => handler.HandleAsync(Request(), "", "/"));

        Assert.Equal(RuleIds.IterableNull, error.Rule);
    }

    [Fact]
    public async Task Disposing_EndsItsAppThreads_AndAMeterItOwns()
    {
        var completed = false;
        using var listener = new MeterListener
        {
            InstrumentPublished = (instrument, l) =>
            {
                if (instrument.Meter.Name == GatewayMetrics.MeterName && instrument.Meter.Scope is null)
                {
                    l.EnableMeasurementEvents(instrument);
                }
            },
            MeasurementsCompleted = (_, _) => completed = true,
        };
        listener.Start();
        Thread? worker = null;
        var handler = GatewayHandlerFactory.Create(
            new ServiceCollection().BuildServiceProvider(),
            (environ, startResponse) =>
            {
                worker = Thread.CurrentThread;
                startResponse("200 OK", [("Content-Type", "text/plain")]);
                return [];
            },
            o => o.MaxInlineCalls = 0);
        await handler.HandleAsync(Request(), "", "/");

        handler.Dispose();

        Assert.True(worker!.Join(TimeSpan.FromSeconds(10)), "the worker outlived its handler");
        Assert.True(completed, "the handler's own meter was not disposed");
    }

    [Fact]
    public async Task StoppingTheHost_EndsTheAppThreads()
    {
        Thread? worker = null;
        var host = await TestApp.StartAsync(
            (environ, startResponse) =>
            {
                worker = Thread.CurrentThread;
                startResponse("200 OK", [("Content-Type", "text/plain")]);
                return [];
            },
            options: o => o.MaxInlineCalls = 0);
        await host.Client.GetStringAsync("/");

        await host.DisposeAsync();

        Assert.True(worker!.Join(TimeSpan.FromSeconds(10)), "the worker outlived its host");
    }

    [Fact]
    public async Task APathBaseEndingInASlash_GivesAScriptNameWithout()
    {
        await using var host = await TestApp.StartAsync(web =>
        {
            web.Use((context, next) =>
            {
                context.Request.PathBase = "/base/";
                return next(context);
            });
            web.UseGatewayApp(Echo(Environ.ScriptName));
        });

        Assert.Equal("/base", await host.Client.GetStringAsync("/x"));
    }

    [Theory]
    [InlineData("/legacy/a/b", "a/b", "/legacy", "/a/b")]
    [InlineData("/legacy", null, "/legacy", "")]
    [InlineData("/legacy/", "", "/legacy", "/")]
    [InlineData("/legacyab", "ab", "/legacyab", "")]    // the tail matches, but not after a '/'
    [InlineData("/a", "abc", "/a", "")]                 // a route value longer than the path
    [InlineData("/Legacy/x", "y", "/Legacy/x", "")]     // a route value that is not the path's tail
    public void SplitPath_CutsAtTheMountPoint_OnlyWhereTheRouteValueIsThePathsTail(string path, string? rest, string scriptName, string pathInfo)
    {
        Assert.Equal((scriptName, pathInfo), RequestPath.SplitAtMount(path, rest));
    }

    private static DefaultHttpContext Request()
    {
        var context = new DefaultHttpContext();
        context.Request.Method = "GET";
        context.Request.Scheme = "http";
        context.Request.Protocol = "HTTP/1.1";
        context.Request.Host = new HostString("h");
        context.Request.Path = "/";
        return context;
    }

    private sealed class Environment(string name) : IHostEnvironment
    {
        public string EnvironmentName { get; set; } = name;

        public string ApplicationName { get; set; } = "test";

        public string ContentRootPath { get; set; } = "/";

        public Microsoft.Extensions.FileProviders.IFileProvider ContentRootFileProvider { get; set; } = null!;
    }
}
