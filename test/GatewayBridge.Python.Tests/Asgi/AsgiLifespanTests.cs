using System.Net;
using GatewayBridge.Python.Tests.Infrastructure;
using Microsoft.Extensions.DependencyInjection;
using static GatewayBridge.Python.Tests.Workers.WorkerHost;

namespace GatewayBridge.Python.Tests.Asgi;

/// <summary>The ASGI lifespan: startup before the first request, shutdown when the host stops or a worker is replaced.</summary>
public class AsgiLifespanTests
{
    [Theory]
    [MemberData(nameof(AsgiHost.Modes), MemberType = typeof(AsgiHost))]
    public async Task AFailedStartup_FailsTheHostsStartup_WithTheAppsMessage(int workers)
    {
        var error = await Assert.ThrowsAsync<InvalidOperationException>(() => AsgiHost.StartAsync(workers, "asgi_apps:failing_startup"));

        Assert.Contains("asgi_apps:failing_startup", error.Message, StringComparison.Ordinal);
        Assert.Contains("the database is not there", error.Message + error.InnerException?.Message, StringComparison.Ordinal);
    }

    [Theory]
    [MemberData(nameof(AsgiHost.Modes), MemberType = typeof(AsgiHost))]
    public async Task Startup_RunsBeforeTheFirstRequest_AndShutdown_WhenTheHostStops(int workers)
    {
        var path = TempPath("lifespan");
        var host = await AsgiHost.StartAsync(workers, $"asgi_apps:recorder('{path}')");
        var startup = await File.ReadAllTextAsync(path);
        var pid = await host.Client.GetStringAsync("/");

        await host.DisposeAsync();

        Assert.Equal($"startup {pid}\n", startup);
        Assert.Equal($"startup {pid}\nshutdown {pid}\n", await File.ReadAllTextAsync(path));
        File.Delete(path);
    }

    [Fact]
    public async Task AReplacedWorker_RunsItsShutdown_AndItsReplacementItsStartup()
    {
        var path = TempPath("lifespan");
        await using var host = await AsgiHost.StartAsync(1, $"asgi_apps:recorder('{path}')", python: o => o.MaxRequests = 2);
        var first = await host.Client.GetStringAsync("/");
        await host.Client.GetStringAsync("/");

        await Eventually.HoldsAsync(() => File.ReadAllText(path).Contains($"shutdown {first}", StringComparison.Ordinal), "the old worker's shutdown");
        var second = await host.Client.GetStringAsync("/");

        Assert.NotEqual(first, second);
        Assert.Contains($"startup {second}\n", await File.ReadAllTextAsync(path), StringComparison.Ordinal);
        File.Delete(path);
    }

    [Fact]
    public async Task AWorkerReplacedWhileItHoldsARequest_StopsWithinGracefulTimeout_AfterItsShutdown()
    {
        var path = TempPath("lifespan");
        await using var host = await AsgiHost.StartAsync(1, $"asgi_apps:holder('{path}')", python: o => o.GracefulTimeout = TimeSpan.FromSeconds(4));
        var first = await host.Client.GetStringAsync("/");
        var held = host.Client.GetAsync("/hold");
        await Eventually.HoldsAsync(() => AsgiHost.Calls(host).Count == 1, "the held request");

        await host.App.Services.GetRequiredService<IPythonWorkers>().ReloadAsync();
        using var answer = await held.WaitAsync(TimeSpan.FromSeconds(20));

        // Held past half the grace, the request is cancelled, so that the app's shutdown runs before the deadline.
        Assert.Equal(HttpStatusCode.InternalServerError, answer.StatusCode);
        await host.Logs.WaitForAsync(e => e.EventId.Name == "AsgiAppFailed" && e.Exception!.Message.Contains("cancelled: the server was stopping", StringComparison.Ordinal));
        await Eventually.HoldsAsync(() => File.ReadAllText(path).Contains($"shutdown {first}\n", StringComparison.Ordinal), "the old worker's shutdown");
        Assert.NotEqual(first, await host.Client.GetStringAsync("/"));
        File.Delete(path);
    }

    [Fact]
    public async Task AnAppWithoutLifespanSupport_IsServedAllTheSame()
    {
        await using var host = await AsgiHost.StartAsync(1, "asgi_apps:hello");

        Assert.Equal("Hello, world!", await host.Client.GetStringAsync("/"));
        await host.Logs.WaitForAsync(e => e.Message.Contains("ASGI 'lifespan' unsupported", StringComparison.Ordinal));
    }
}
