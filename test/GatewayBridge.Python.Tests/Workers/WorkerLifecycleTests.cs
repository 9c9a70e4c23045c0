using System.Diagnostics;
using System.Net;
using Microsoft.Extensions.DependencyInjection;
using static GatewayBridge.Python.Tests.Workers.WorkerHost;

namespace GatewayBridge.Python.Tests.Workers;

/// <summary>Workers replaced on purpose (max requests, memory, reload, SIGTERM) and stopped with the host, never failing a request.</summary>
public class WorkerLifecycleTests
{
    [Fact]
    public async Task MaxRequests_ReplacesAWorkerAfterThatManyRequests_ServingOnUntilItsReplacementIsReady()
    {
        await using var host = await StartAsync(python: o => o.MaxRequests = 3);
        using var meters = new HostMeasurements(host.App.Services);
        var pool = host.Supervisor();

        var pids = new List<int>();
        for (var i = 0; i < 3; i++)
        {
            pids.Add(await host.GetPidAsync());
        }

        // A pool of one never has none: the old worker takes requests until the new one is ready.
        await Eventually.HoldsAsync(
            () =>
            {
                Assert.True(pool.LiveWorkers >= 1, "no worker was serving while the old one was replaced");
                return !host.Pids().Contains(pids[0]);
            },
            "the replacement took over");
        var next = await host.GetPidAsync();

        Assert.Single(pids.Distinct());
        Assert.NotEqual(pids[0], next);
        Assert.Equal(1, pool.LiveWorkers);
        await Eventually.HoldsAsync(() => meters.All.Count(m => m.Name == "gatewaybridge.python.worker_restarts") == 1, "the restart counted");
    }

    [Fact]
    public async Task AWorkerThatDies_WhileItsReplacementStarts_IsReplacedOnce_NotTwice()
    {
        // The replacement's import waits on a gate, so the old worker dies while it starts: that death must not start a
        // second replacement beside the one on its way.
        var gate = TempPath("gate");
        await File.WriteAllTextAsync(gate, "");
        Environment.SetEnvironmentVariable("GATEWAYBRIDGE_TEST_IMPORT_GATE", gate);
        try
        {
            await using var host = await StartAsync("gated_app:app", python: o => o.MaxRequests = 2);
            using var meters = new HostMeasurements(host.App.Services);
            File.Delete(gate);
            await host.Client.GetStringAsync("/");
            await host.Client.GetStringAsync("/");
            await Eventually.HoldsAsync(() => host.Supervisor().Workers.Any(w => w.Life.State == WorkerState.Starting), "the replacement importing the app");

            using var crashed = await host.Client.GetAsync("/crash");
            Assert.Equal(HttpStatusCode.BadGateway, crashed.StatusCode);
            await File.WriteAllTextAsync(gate, "");

            await Eventually.HoldsAsync(() => host.Supervisor().Workers.All(w => w.Life.State == WorkerState.Serving) && host.Pids().Count > 0, "no worker starting any more");
            Assert.Single(host.Supervisor().Workers);
            Assert.Equal(["reason=max_requests"], meters.All.Where(m => m.Name == "gatewaybridge.python.worker_restarts").Select(m => m.Tags));
        }
        finally
        {
            Environment.SetEnvironmentVariable("GATEWAYBRIDGE_TEST_IMPORT_GATE", null);
            File.Delete(gate);
        }
    }

    [Fact]
    public async Task MaxRequestsJitter_GivesEachWorkerALimitWithinItsRange()
    {
        await using var host = await StartAsync(workers: 2, python: o => { o.MaxRequests = 10; o.MaxRequestsJitter = 5; });

        Assert.All(host.Supervisor().Workers, w => Assert.InRange(w.RequestLimit, 10, 15));
    }

    [Fact]
    public async Task AWorkerPastMaxWorkerMemory_IsReplacedAfterTheRequest_ThatRequestAnswered()
    {
        await using var host = await StartAsync(python: o => o.MaxWorkerMemory = 150L * 1024 * 1024);
        var pid = await host.GetPidAsync();

        Assert.Equal(pid.ToString(System.Globalization.CultureInfo.InvariantCulture), await host.Client.GetStringAsync("/grow?mb=200"));

        var retired = (await host.Logs.WaitForAsync(e => e.EventId.Name == "WorkerRetiring"))[0];
        Assert.Contains("(memory)", retired.Message, StringComparison.Ordinal);
        await Eventually.HoldsAsync(() => !host.Pids().Contains(pid), "the leaking worker replaced");
        Assert.NotEqual(pid, await host.GetPidAsync());
    }

    [Fact]
    public async Task SigtermToABusyWorker_LetsItFinishTheRequest_ThenItStopsAndIsReplaced()
    {
        var release = TempPath("release");
        var atexit = TempPath("atexit");
        await using var host = await StartAsync();
        var pid = await host.GetPidAsync();
        await host.Client.GetStringAsync($"/register_atexit?path={Uri.EscapeDataString(atexit)}");
        var held = host.Client.GetStringAsync($"/wait_for_file?path={Uri.EscapeDataString(release)}");
        await Eventually.HoldsAsync(() => host.Supervisor().Workers.Single(w => w.Pid == pid).OpenCalls == 1, "the request in the worker");

        Process.Start("kill", ["-TERM", pid.ToString(System.Globalization.CultureInfo.InvariantCulture)])!.WaitForExit();
        var worker = host.Supervisor().Workers.Single(w => w.Pid == pid);
        await Eventually.HoldsAsync(() => worker.Life.State == WorkerState.Retiring, "the worker retiring, its request still in it");
        Assert.Equal(RetireReason.Signal, worker.Life.Reason);
        await File.WriteAllTextAsync(release, "");

        Assert.Equal($"released {pid}", await held);
        await Eventually.HoldsAsync(() => File.Exists(atexit), "the worker's atexit handler");
        Assert.Equal($"atexit ran in {pid}", await File.ReadAllTextAsync(atexit));
        Assert.NotEqual(pid, await host.GetPidAsync());
        File.Delete(release);
        File.Delete(atexit);
    }

    [Fact]
    public async Task StoppingTheHost_StopsItsWorkers_RunningTheirAtexitHandlers()
    {
        var atexit = TempPath("atexit");
        int pid;
        await using (var host = await StartAsync())
        {
            pid = await host.GetPidAsync();
            await host.Client.GetStringAsync($"/register_atexit?path={Uri.EscapeDataString(atexit)}");
        }

        Assert.Equal($"atexit ran in {pid}", await File.ReadAllTextAsync(atexit));
        Assert.Throws<ArgumentException>(() => Process.GetProcessById(pid));
        File.Delete(atexit);
    }

    [Fact]
    public async Task AWorkerThatWillNotStop_IsKilledAfterGracefulTimeout()
    {
        var release = TempPath("never");
        var host = await StartAsync(python: o => o.GracefulTimeout = TimeSpan.FromMilliseconds(500));
        var pid = await host.GetPidAsync();
        _ = host.Client.GetStringAsync($"/wait_for_file?path={Uri.EscapeDataString(release)}");
        await Eventually.HoldsAsync(() => host.Supervisor().Workers.Single().OpenCalls == 1, "the request in the worker");

        var watch = Stopwatch.StartNew();
        await host.PythonWorkers().StoppedAsync(CancellationToken.None);

        Assert.InRange(watch.Elapsed.TotalSeconds, 0.4, 10);
        Assert.Contains($"{pid}", (await host.Logs.WaitForAsync(e => e.EventId.Name == "WorkerKilled"))[0].Message, StringComparison.Ordinal);
        await host.DisposeAsync();
    }

    [Fact]
    public async Task Reload_ReplacesEveryWorkerWithFreshlyImportedCode_WithoutFailingARequest()
    {
        var marker = TempPath("marker");
        await File.WriteAllTextAsync(marker, "old");
        Environment.SetEnvironmentVariable("GATEWAYBRIDGE_TEST_MARKER_FILE", marker);
        try
        {
            await using var host = await StartAsync(workers: 2);
            var before = host.Pids();
            Assert.Equal("old", await host.Client.GetStringAsync("/marker"));
            await File.WriteAllTextAsync(marker, "new");

            using var stop = new CancellationTokenSource();
            var failures = 0;
            var served = 0;
            var load = Task.Run(async () =>
            {
                while (!stop.IsCancellationRequested)
                {
                    using var response = await host.Client.GetAsync("/sleepy?seconds=0.01");
                    if (response.StatusCode != HttpStatusCode.OK)
                    {
                        Interlocked.Increment(ref failures);
                    }

                    Interlocked.Increment(ref served);
                }
            });
            await host.App.Services.GetRequiredService<IPythonWorkers>().ReloadAsync();
            var afterReload = Volatile.Read(ref served);
            await Eventually.HoldsAsync(() => Volatile.Read(ref served) >= afterReload + 10, "requests served by the new workers");
            await stop.CancelAsync();
            await load;

            Assert.Equal(0, failures);
            Assert.True(served > 10, $"only {served} requests during the reload");
            await Eventually.HoldsAsync(() => host.Pids().Count == 2 && !host.Pids().Overlaps(before), "two new workers");
            Assert.Equal("new", await host.Client.GetStringAsync("/marker"));
        }
        finally
        {
            Environment.SetEnvironmentVariable("GATEWAYBRIDGE_TEST_MARKER_FILE", null);
            File.Delete(marker);
        }
    }

    [Fact]
    public async Task TheWorkerGauges_CountLiveAndBusyWorkers()
    {
        HostMeasurements? meters = null;
        var release = TempPath("release");
        await using var host = await StartAsync(workers: 2, before: app => meters = new HostMeasurements(app.Services));
        using var _ = meters;

        Assert.Equal(2, meters!.Sum("gatewaybridge.python.workers"));
        var held = host.Client.GetStringAsync($"/wait_for_file?path={Uri.EscapeDataString(release)}");
        await Eventually.HoldsAsync(() => meters.Sum("gatewaybridge.python.busy_workers") == 1, "one busy worker");
        Assert.Equal(0, meters.Sum("gatewaybridge.app_threads"));

        // The 0.1 instruments, kept one release, count them too.
        Assert.Equal(2, meters.Sum("gatewaybridge.workers"));
        Assert.Equal(1, meters.Sum("gatewaybridge.busy_workers"));
        await File.WriteAllTextAsync(release, "");
        await held;
        await Eventually.HoldsAsync(() => meters.Sum("gatewaybridge.python.busy_workers") == 0, "no busy worker");
        File.Delete(release);
    }
}
