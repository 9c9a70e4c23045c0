using System.Net;
using GatewayBridge.Python.Tests.Infrastructure;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;

namespace GatewayBridge.Python.Tests.Embedded;

/// <summary>Python threads: calls overlap up to Threads, the GIL is free while threads wait, native endpoints never wait.</summary>
public class PythonThreadTests
{
    private static Task<TestHost> StartAsync(int threads, int queueLimit = 256) =>
        PythonTestHost.StartAsync(
            app =>
            {
                app.MapGet("/native", () => "native");
                app.UsePythonWsgiApp("wsgi_apps:router", o => o.QueueLimit = queueLimit);
            },
            kestrel: true,
            python: o => o.Threads = threads);

    private static void Release(string name) => PythonTestHost.RunPython($"import wsgi_apps; wsgi_apps._event('{name}').set()");

    [Fact]
    public async Task AsManyCallsAsThreads_RunAtOnce()
    {
        // A barrier of four parties passes only if four calls run at the same time.
        await using var host = await StartAsync(threads: 4);
        var name = Guid.NewGuid().ToString("N");
        var calls = Enumerable.Range(0, 4).Select(_ => host.Client.GetStringAsync($"/barrier?name={name}&parties=4")).ToList();

        Assert.All(await Task.WhenAll(calls), body => Assert.Equal("200 OK", body));
    }

    [Fact]
    public async Task NativeEndpoints_Answer_WhileEveryPythonThreadIsBlocked()
    {
        await using var host = await StartAsync(threads: 2);
        using var measurements = new HostMeasurements(host.App.Services);
        var name = Guid.NewGuid().ToString("N");
        var blocked = Enumerable.Range(0, 2).Select(_ => host.Client.GetStringAsync($"/block?name={name}")).ToList();
        await Eventually.HoldsAsync(() => measurements.Sum("gatewaybridge.busy_app_threads") == 2, "two busy Python threads");

        Assert.Equal("native", await host.Client.GetStringAsync("/native"));

        Release(name);
        Assert.All(await Task.WhenAll(blocked), body => Assert.Equal("unblocked", body));
    }

    [Fact]
    public async Task ThreadsTheAppStarted_KeepRunning_WhileTheWorkersWaitForWork()
    {
        // Idle workers release the GIL; a worker that kept it while waiting would stop the app's own thread.
        await using var host = await StartAsync(threads: 2);
        var name = Guid.NewGuid().ToString("N");
        Assert.Equal("spawned", await host.Client.GetStringAsync($"/spawn_counter?name={name}"));

        // Checked seldom (each check is a request that runs Python code, and that alone would give the app's thread a
        // turn), for up to 10 s, so a slow machine has time.
        await Eventually.ReturnsAsync(
            async () => int.Parse(await host.Client.GetStringAsync($"/close_count?name={name}"), System.Globalization.CultureInfo.InvariantCulture),
            count => count >= 20,
            "the app's thread counting to 20 while the Python threads wait for work",
            within: TimeSpan.FromSeconds(10),
            interval: TimeSpan.FromMilliseconds(500));
    }

    [Fact]
    public async Task PythonThreads_CountAsTheHostsAppThreads_FromStartToStop()
    {
        HostMeasurements? measurements = null;
        await using var host = await PythonTestHost.StartAsync(
            app =>
            {
                // Listening before the host starts, which is when its threads start.
                measurements = new HostMeasurements(app.Services);
                app.UsePythonWsgiApp("wsgi_apps:router");
            },
            python: o => o.Threads = 3);
        using var _ = measurements;

        await Eventually.HoldsAsync(() => measurements!.Sum("gatewaybridge.app_threads") == 3, "three Python threads");
        await host.App.StopAsync();
        Assert.Equal(0, measurements!.Sum("gatewaybridge.workers"));
    }

    [Fact]
    public async Task APythonThread_KeepsItsThreadState_FromOneRequestToTheNext()
    {
        await using var host = await StartAsync(threads: 1);
        var first = (await host.Client.GetStringAsync("/thread_state")).Split(':');
        var second = (await host.Client.GetStringAsync("/thread_state")).Split(':');

        Assert.Equal(first[0], second[0]);
        Assert.Equal("1", first[1]);
        Assert.Equal("2", second[1]);
    }

    [Fact]
    public async Task AFullQueue_Answers503WithRetryAfter_BeforeTheBodyIsRead()
    {
        await using var host = await StartAsync(threads: 1, queueLimit: 1);
        using var measurements = new HostMeasurements(host.App.Services);
        var name = Guid.NewGuid().ToString("N");
        var running = host.Client.GetStringAsync($"/block?name={name}");
        await Eventually.HoldsAsync(() => measurements.Sum("gatewaybridge.busy_app_threads") == 1, "one busy Python thread");
        var queued = host.Client.GetStringAsync($"/block?name={name}");
        await Eventually.HoldsAsync(() => measurements.Sum("gatewaybridge.queued_calls") == 1, "a queued call");

        var rejected = await host.Client.PostAsync("/block", new StringContent("body"));

        Assert.Equal(HttpStatusCode.ServiceUnavailable, rejected.StatusCode);
        Assert.Equal("1", rejected.Headers.GetValues("Retry-After").Single());
        Release(name);
        Assert.Equal("unblocked", await running);
        Assert.Equal("unblocked", await queued);
    }

    [Fact]
    public async Task AQueuedRequestWhoseClientLeft_NeverRuns()
    {
        await using var host = await StartAsync(threads: 1);
        using var measurements = new HostMeasurements(host.App.Services);
        var blocker = Guid.NewGuid().ToString("N");
        var touched = Guid.NewGuid().ToString("N");
        var running = host.Client.GetStringAsync($"/block?name={blocker}");
        await Eventually.HoldsAsync(() => measurements.Sum("gatewaybridge.busy_app_threads") == 1, "one busy Python thread");

        using (var leaving = new CancellationTokenSource())
        {
            var queued = host.Client.GetStringAsync($"/touch?name={touched}", leaving.Token);
            await Eventually.HoldsAsync(() => measurements.Sum("gatewaybridge.queued_calls") == 1, "a queued call");
            await leaving.CancelAsync();
            await Assert.ThrowsAnyAsync<OperationCanceledException>(() => queued);
        }

        // The server, not just the client, must know the request is gone before its turn comes.
        await Eventually.HoldsAsync(() => host.Logs.Entries.Any(e => e.EventId.Name == "RequestAborted"), "the abort logged");

        Release(blocker);
        await running;
        Assert.Equal("0", await host.Client.GetStringAsync($"/close_count?name={touched}"));
    }
}
