using System.Diagnostics;
using System.Net;
using static GatewayBridge.Python.Tests.Workers.WorkerHost;

namespace GatewayBridge.Python.Tests.Workers;

/// <summary>
/// Requests sent to a busy worker ahead of time, so that it finds its next one waiting: they must behave as if they
/// had waited in the host. And a worker's end noticed whatever the app left behind.
/// </summary>
public class WorkerSendAheadTests
{
    [Fact]
    public async Task AnAnswer_GoesOutAtOnce_NotWhenTheSlowRequestSentAheadBehindItIsDone()
    {
        await using var host = await StartAsync();
        var worker = host.Supervisor().Workers.Single();

        // While the worker is busy, a fast request and then a slow one are sent ahead: it reads both at once.
        var busy = host.Client.GetStringAsync("/sleepy?seconds=0.5");
        await Eventually.HoldsAsync(() => worker.OpenCalls == 1, "the worker busy");
        var fast = host.Client.GetStringAsync("/sleepy?seconds=0");
        await Eventually.HoldsAsync(() => worker.OpenCalls == 2, "the fast request sent ahead");
        var slow = host.Client.GetStringAsync("/sleepy?seconds=4");
        await Eventually.HoldsAsync(() => worker.OpenCalls == 3, "the slow one sent ahead");
        await busy;

        await fast;

        // The slow one sleeps 4 s after it starts: had the fast answer waited for it, it would have come after.
        Assert.False(slow.IsCompleted, "the fast answer came only with the slow one");
        await slow;
    }

    [Fact]
    public async Task ARequestSentAhead_WhoseClientLeavesBeforeItStarts_NeverReachesTheApp()
    {
        await using var host = await StartAsync();
        var worker = host.Supervisor().Workers.Single();
        var name = Guid.NewGuid().ToString("N");

        var busy = host.Client.GetStringAsync("/sleepy?seconds=1.5");
        await Eventually.HoldsAsync(() => worker.OpenCalls == 1, "the worker busy");
        using (var connection = host.Connect())
        {
            await connection.SendAsync($"GET /record?name={name} HTTP/1.1\r\nHost: t\r\n\r\n");
            await Eventually.HoldsAsync(() => worker.OpenCalls == 2, "the request sent ahead");
        }

        await busy;
        await Eventually.HoldsAsync(() => worker.OpenCalls == 0, "the cancelled request answered by the worker");

        Assert.Equal("0", await host.Client.GetStringAsync($"/recorded?name={name}"));
        Assert.Equal("recorded", await host.Client.GetStringAsync($"/record?name={name}-2"));
    }

    [Fact]
    public async Task AWorkerThatDies_LeavingAChildWithItsOutputOpen_FailsItsRequestAtOnce_AndIsReplaced()
    {
        // The child (sleep 60) holds the worker's stdout and stderr: the worker's end must not wait for theirs.
        await using var host = await StartAsync();
        var pid = await host.GetPidAsync();
        var pidFile = TempPath("child");
        var watch = Stopwatch.StartNew();

        using var failed = await host.Client.GetAsync($"/crash_leaving_a_child?pidfile={Uri.EscapeDataString(pidFile)}");

        Assert.Equal(HttpStatusCode.BadGateway, failed.StatusCode);
        Assert.True(watch.Elapsed < TimeSpan.FromSeconds(30), $"the failure took {watch.Elapsed}");
        Assert.NotEqual(pid, await host.GetPidAsync());

        // The child this test's request started, and no other process.
        using (var child = Process.GetProcessById(int.Parse(await File.ReadAllTextAsync(pidFile), System.Globalization.CultureInfo.InvariantCulture)))
        {
            child.Kill();
        }

        File.Delete(pidFile);
    }
}
