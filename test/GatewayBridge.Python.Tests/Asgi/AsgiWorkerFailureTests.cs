using System.Globalization;
using System.Net;
using static GatewayBridge.Python.Tests.Workers.WorkerHost;

namespace GatewayBridge.Python.Tests.Asgi;

/// <summary>An ASGI worker that dies fails only what it held, with its exit status in the log, and is replaced.</summary>
public class AsgiWorkerFailureTests
{
    [Fact]
    public async Task AWorkerKilledMidRequest_FailsWhatItHeldWith502_LoggedWithItsExitStatus_AndIsReplaced()
    {
        await using var host = await AsgiHost.StartAsync(1);
        var pid = int.Parse(await host.Client.GetStringAsync("/pid"), CultureInfo.InvariantCulture);
        var held = host.Client.GetAsync("/held?ms=30000");
        await Eventually.HoldsAsync(() => AsgiHost.Calls(host).Count == 1, "the held request");

        using var crashed = await host.Client.GetAsync("/crash");
        using var answer = await held.WaitAsync(TimeSpan.FromSeconds(20));

        Assert.Equal(HttpStatusCode.BadGateway, crashed.StatusCode);
        Assert.Equal(HttpStatusCode.BadGateway, answer.StatusCode);
        var failed = await host.Logs.WaitForAsync(e => e.EventId.Name == "PythonRequestFailed");
        Assert.Contains($"Python worker {pid} exited with signal 9 (SIGKILL)", failed[0].Message, StringComparison.Ordinal);
        Assert.NotEqual(pid.ToString(CultureInfo.InvariantCulture), await host.Client.GetStringAsync("/pid"));
        Assert.Equal("native", await host.Client.GetStringAsync("/native"));
    }
}
