using System.Diagnostics;
using System.Net;
using System.Net.Sockets;
using System.Text;
using GatewayBridge.Python.Tests.Infrastructure;
using Microsoft.AspNetCore.Builder;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using static GatewayBridge.Python.Tests.Workers.WorkerHost;

namespace GatewayBridge.Python.Tests.Workers;

/// <summary>
/// A worker that dies, hangs, leaks or breaks the protocol fails only the requests it held, cleanly, and is replaced;
/// the host and every other request go on.
/// </summary>
public class WorkerFailureTests
{
    [Fact]
    public async Task AWorkerKilledMidRequest_FailsThatRequestWith502_IsLoggedWithItsPidAndStatus_AndReplaced()
    {
        await using var host = await StartAsync();
        var pid = await host.GetPidAsync();

        using var crashed = await host.Client.GetAsync("/crash");

        Assert.Equal(HttpStatusCode.BadGateway, crashed.StatusCode);
        var exited = await host.Logs.WaitForAsync(e => e.EventId.Name == "WorkerExited");
        Assert.Contains($"worker {pid}", exited[0].Message, StringComparison.Ordinal);
        Assert.Contains("signal 9 (SIGKILL)", exited[0].Message, StringComparison.Ordinal);
        var replacement = await host.GetPidAsync();
        Assert.NotEqual(pid, replacement);
        Assert.Equal("native", await host.Client.GetStringAsync("/native"));
    }

    [Fact]
    public async Task AWorkerThatExits_FailsOnlyTheRequestItHeld_TheOtherWorkerServesOn()
    {
        await using var host = await StartAsync(workers: 2);
        var release = TempPath("release");
        var held = host.Client.GetStringAsync($"/wait_for_file?path={Uri.EscapeDataString(release)}");
        await Eventually.HoldsAsync(() => host.Supervisor().Workers.Any(w => w.OpenCalls == 1), "one worker busy");

        using var exited = await host.Client.GetAsync("/exit_now");
        await File.WriteAllTextAsync(release, "");

        Assert.Equal(HttpStatusCode.BadGateway, exited.StatusCode);
        Assert.StartsWith("released", await held, StringComparison.Ordinal);
        Assert.Contains("status 7", (await host.Logs.WaitForAsync(e => e.EventId.Name == "WorkerExited"))[0].Message, StringComparison.Ordinal);
        await Eventually.HoldsAsync(() => host.Pids().Count == 2, "the replacement");
        File.Delete(release);
    }

    [Fact]
    public async Task AHungCall_Answers504_AfterTheTimeout_WithThePythonTracebackLogged_AndTheWorkerReplaced()
    {
        await using var host = await StartAsync(python: o => o.Timeout = TimeSpan.FromSeconds(1));
        var pid = await host.GetPidAsync();
        var watch = Stopwatch.StartNew();

        using var hung = await host.Client.GetAsync("/stuck_in_app_code");

        Assert.Equal(HttpStatusCode.GatewayTimeout, hung.StatusCode);
        Assert.InRange(watch.Elapsed.TotalSeconds, 0.9, 10);
        var logged = (await host.Logs.WaitForAsync(e => e.EventId.Name == "WorkerTimedOut"))[0];
        Assert.Contains($"worker {pid}", logged.Message, StringComparison.Ordinal);
        Assert.Contains("stuck_in_app_code", logged.Message, StringComparison.Ordinal);
        Assert.NotEqual(pid, await host.GetPidAsync());
    }

    [Fact]
    public async Task ASlowButProgressingDownload_IsNeverCut_ByTheTimeout()
    {
        // 48 x 1 MB to a client that reads slowly: several seconds in all, each chunk well within the 1 s timeout.
        await using var host = await StartAsync(python: o => o.Timeout = TimeSpan.FromSeconds(1));
        using var connection = host.Connect(receiveBuffer: 64 * 1024);
        await connection.SendAsync("GET /download?mb=48 HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n");
        var received = 0;
        for (var i = 0; i < 12; i++)
        {
            await Task.Delay(200);
            received += await connection.ReadAtLeastAsync(1, TimeSpan.FromSeconds(10));
        }

        var (text, _) = await connection.ReadToCloseAsync(TimeSpan.FromSeconds(60));
        Assert.True(received + text.Length > 48 * 1024 * 1024, $"received {received + text.Length} bytes");
        Assert.DoesNotContain(host.Logs.Entries, e => e.EventId.Name == "WorkerTimedOut");
    }

    [Fact]
    public async Task AWorkerThatWritesGarbage_FailsItsRequest_IsLoggedAndReplaced()
    {
        await using var host = await StartAsync();
        var pid = await host.GetPidAsync();

        using var broken = await host.Client.GetAsync("/garbage");

        Assert.Equal(HttpStatusCode.BadGateway, broken.StatusCode);
        Assert.Contains($"worker {pid}", (await host.Logs.WaitForAsync(e => e.EventId.Name == "WorkerProtocolError"))[0].Message, StringComparison.Ordinal);
        Assert.NotEqual(pid, await host.GetPidAsync());
    }

    [Fact]
    public async Task AWorkerThatDiesMidFrame_FailsItsRequest_AndTheNextOneIsServed()
    {
        await using var host = await StartAsync();

        using var broken = await host.Client.GetAsync("/half_frame");

        Assert.Equal(HttpStatusCode.BadGateway, broken.StatusCode);
        Assert.Contains(await host.GetPidAsync(), host.Pids());
    }

    [Fact]
    public async Task AnAppThatCannotBeImported_StopsTheHostsStartup_WithItsTraceback_AndLeavesNoWorker()
    {
        var error = await Assert.ThrowsAsync<InvalidOperationException>(() => StartAsync("missing_module_xyz:app", workers: 2));

        Assert.Contains("missing_module_xyz", error.Message, StringComparison.Ordinal);
        Assert.Contains("ModuleNotFoundError", error.Message, StringComparison.Ordinal);
        Assert.Contains("Traceback", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task ABodyThresholdTooLargeForAFrame_FailsWhereTheAppIsMounted_NamingTheOption()
    {
        // A body kept in memory travels in the request's frame (16 MiB at most); a larger one would go by its file.
        var error = await Assert.ThrowsAsync<ArgumentOutOfRangeException>(() => StartAsync(options: o => o.MemoryBufferThreshold = 9 * 1024 * 1024));

        Assert.Contains("GatewayOptions.MemoryBufferThreshold", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task AConnectionWithoutTheWorkersSecret_IsRefused_AndTheWorkersServeOn()
    {
        await using var host = await StartAsync();
        using (var stranger = new Socket(AddressFamily.Unix, SocketType.Stream, ProtocolType.Unspecified))
        {
            await stranger.ConnectAsync(new UnixDomainSocketEndPoint(host.PythonWorkers().Runtime.SocketPath));
            await stranger.SendAsync(Frames.Bytes(FrameWriter.Hello(new string('0', 64), "/nowhere/protocol.py")));
            var buffer = new byte[16];
            Assert.Equal(0, await stranger.ReceiveAsync(buffer));
        }

        Assert.Contains("secret", (await host.Logs.WaitForAsync(e => e.EventId.Name == "UnexpectedConnection"))[0].Message, StringComparison.Ordinal);
        Assert.Equal(await host.GetPidAsync(), await host.GetPidAsync());
    }

    [Fact]
    public async Task AWorker_RefusesAHostThatCannotProveItStartedIt()
    {
        using var folder = new TempFolder();
        var socketPath = Path.Combine(folder.Path, "s");
        using var listener = new Socket(AddressFamily.Unix, SocketType.Stream, ProtocolType.Unspecified);
        listener.Bind(new UnixDomainSocketEndPoint(socketPath));
        listener.Listen(1);
        var start = new ProcessStartInfo(PythonTestHost.Python, [PythonShim.Write(folder.Path)]) { RedirectStandardError = true };
        start.Environment["GATEWAYBRIDGE_SOCKET"] = socketPath;
        start.Environment["GATEWAYBRIDGE_WORKER_TOKEN"] = "worker-secret";
        start.Environment["GATEWAYBRIDGE_HOST_TOKEN"] = "host-secret";
        using var worker = Process.Start(start)!;

        using var connection = await listener.AcceptAsync();
        var config = Encoding.UTF8.GetBytes("{\"proof\": \"a guess\", \"app\": \"worker_apps:router\", \"threads\": 1}");
        await connection.SendAsync(Frames.Bytes(FrameWriter.Json(FrameType.Config, config)));
        var stderr = await worker.StandardError.ReadToEndAsync();
        await worker.WaitForExitAsync();

        Assert.NotEqual(0, worker.ExitCode);
        Assert.Contains("refused", stderr, StringComparison.Ordinal);
    }

    [Fact]
    public async Task AWorkerThatKeepsDying_IsRestartedWithAGrowingDelay_AndTheHealthCheckSaysSo()
    {
        await using var host = await PythonTestHost.StartAsync(
            app =>
            {
                app.MapHealthChecks("/healthz");
                app.UsePythonWsgiApp("worker_apps:router", o => o.UseValidator = false);
            },
            kestrel: true,
            python: o => o.Workers = 1,
            configure: builder => builder.Services.AddHealthChecks().AddPythonWorkers());
        Assert.Equal("Healthy", await host.Client.GetStringAsync("/healthz"));

        for (var i = 0; i < 4; i++)
        {
            await Eventually.HoldsAsync(() => host.Pids().Count == 1, "a live worker");
            using var crashed = await host.Client.GetAsync("/crash");
            Assert.Equal(HttpStatusCode.BadGateway, crashed.StatusCode);
        }

        await host.Logs.WaitForAsync(e => e.EventId.Name == "WorkerRestartDelayed");
        using var health = await host.Client.GetAsync("/healthz");
        Assert.Equal(HttpStatusCode.ServiceUnavailable, health.StatusCode);
        Assert.Equal("Unhealthy", await health.Content.ReadAsStringAsync());
        await Eventually.HoldsAsync(() => host.Pids().Count == 1, "the delayed replacement");
        Assert.Equal("Healthy", await host.Client.GetStringAsync("/healthz"));
    }
}
