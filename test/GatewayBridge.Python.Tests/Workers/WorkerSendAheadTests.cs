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
        await WaitForAsync(() => worker.OpenCalls == 1, "the worker busy");
        var fast = host.Client.GetStringAsync("/sleepy?seconds=0");
        await WaitForAsync(() => worker.OpenCalls == 2, "the fast request sent ahead");
        var slow = host.Client.GetStringAsync("/sleepy?seconds=4");
        await WaitForAsync(() => worker.OpenCalls == 3, "the slow one sent ahead");
        await busy;

        await fast;
        await Task.Delay(300);

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
        await WaitForAsync(() => worker.OpenCalls == 1, "the worker busy");
        using (var connection = host.Connect())
        {
            await connection.SendAsync($"GET /record?name={name} HTTP/1.1\r\nHost: t\r\n\r\n");
            await WaitForAsync(() => worker.OpenCalls == 2, "the request sent ahead");
        }

        await busy;
        await WaitForAsync(() => worker.OpenCalls == 0, "the cancelled request answered by the worker");

        Assert.Equal("0", await host.Client.GetStringAsync($"/recorded?name={name}"));
        Assert.Equal("recorded", await host.Client.GetStringAsync($"/record?name={name}-2"));
    }

    [Fact]
    public async Task AWorkerThatDies_LeavingAChildWithItsOutputOpen_FailsItsRequestAtOnce_AndIsReplaced()
    {
        // The child (sleep 60) holds the worker's stdout and stderr: the worker's end must not wait for theirs.
        await using var host = await StartAsync();
        var pid = await host.GetPidAsync();
        var watch = Stopwatch.StartNew();

        using var failed = await host.Client.GetAsync("/crash_leaving_a_child");

        Assert.Equal(HttpStatusCode.BadGateway, failed.StatusCode);
        Assert.True(watch.Elapsed < TimeSpan.FromSeconds(30), $"the failure took {watch.Elapsed}");
        Assert.NotEqual(pid, await host.GetPidAsync());
        foreach (var child in Process.GetProcessesByName("sleep"))
        {
            if (child.StartTime > DateTime.Now.AddMinutes(-1) && File.ReadAllText($"/proc/{child.Id}/cmdline").StartsWith("sleep\060", StringComparison.Ordinal))
            {
                child.Kill();
            }
        }
    }
}
