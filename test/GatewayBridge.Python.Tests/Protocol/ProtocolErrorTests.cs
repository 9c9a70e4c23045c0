using System.Diagnostics;
using System.Net;
using System.Net.Sockets;
using System.Text;
using GatewayBridge.Python.Tests.Asgi;
using GatewayBridge.Python.Tests.Infrastructure;
using static GatewayBridge.Python.Tests.Workers.WorkerHost;

namespace GatewayBridge.Python.Tests.Protocol;

/// <summary>
/// What bad input gets, rule by rule (docs/worker-protocol.md), over real worker processes: a worker that breaks the
/// protocol is replaced and fails only what it held, logged with its pid and exit status; a late frame is ignored; a
/// worker of another version does not start; what does not fit a frame is cut, with a marker, on both interfaces.
/// </summary>
public class ProtocolErrorTests
{
    [Theory]
    [InlineData("/unknown_id", "for call 2147483648, which was never opened")]
    [InlineData("/oversized_frame", "of 16777217 bytes, over the protocol's 16777216")]
    [InlineData("/half_frame", "in the middle of a frame")]
    [InlineData("/garbage", "not a frame it may send")]
    public async Task AWorkerThatBreaksTheProtocol_FailsOnlyWhatItHeld_IsLoggedWithItsPidAndStatus_AndReplaced(string path, string rule)
    {
        await using var host = await StartAsync();
        var pid = await host.GetPidAsync();

        using var broken = await host.Client.GetAsync(path);

        Assert.Equal(HttpStatusCode.BadGateway, broken.StatusCode);
        var error = (await host.Logs.WaitForAsync(e => e.EventId.Name == "WorkerProtocolError"))[0];
        Assert.Contains($"worker {pid}", error.Message, StringComparison.Ordinal);
        Assert.Contains(rule, error.Message, StringComparison.Ordinal);
        var failed = (await host.Logs.WaitForAsync(e => e.EventId.Name == "PythonRequestFailed"))[0];
        Assert.Contains($"Python worker {pid} exited with", failed.Message, StringComparison.Ordinal);
        Assert.NotEqual(pid, await host.GetPidAsync());
    }

    [Fact]
    public async Task ALateFrame_ForACallThatHasEnded_IsIgnored_AndTheWorkerServesOn()
    {
        await using var host = await StartAsync();
        var pid = await host.GetPidAsync();

        Assert.Equal("answered", await host.Client.GetStringAsync("/late_frame"));

        Assert.Equal(pid, await host.GetPidAsync());
        Assert.DoesNotContain(host.Logs.Entries, e => e.EventId.Name is "WorkerProtocolError" or "WorkerExited");
    }

    [Fact]
    public async Task AWorkerOfAnotherProtocolVersion_DoesNotStart_AndTheHostNamesBothVersionsAndTheModuleThatAnswered()
    {
        // A .pth file in a virtual environment runs before the worker's script: it makes the shim's protocol module
        // answer with version 99, as an older or newer shim would.
        var venv = ChildProcesses.CreateVirtualEnvironment(systemSitePackages: true);
        try
        {
            var sitePackages = Directory.GetDirectories(Path.Combine(venv, "lib"), "python3*").Single() + "/site-packages";
            await File.WriteAllTextAsync(Path.Combine(sitePackages, "zz_other_version.pth"), "import other_version\n");
            await File.WriteAllTextAsync(Path.Combine(sitePackages, "other_version.py"), """
                import os
                import sys

                if sys.argv and sys.argv[0].endswith("gatewaybridge_worker.py"):
                    sys.path.insert(0, os.path.dirname(sys.argv[0]))
                    import gatewaybridge.protocol
                    gatewaybridge.protocol.VERSION = 99
                """);

            var error = await Assert.ThrowsAsync<InvalidOperationException>(() => StartAsync(python: o => o.Python = Path.Combine(venv, "bin", "python3")));

            Assert.Contains("speaks version 99 of the worker protocol", error.Message, StringComparison.Ordinal);
            Assert.Contains($"this host speaks version {WorkerProtocol.Version}", error.Message, StringComparison.Ordinal);
            Assert.Contains("gatewaybridge/protocol.py", error.Message, StringComparison.Ordinal);
        }
        finally
        {
            Directory.Delete(venv, recursive: true);
        }
    }

    public static TheoryData<string, byte[], bool, string> BadFramesFromTheHost => new()
    {
        { "a credit for request 0", Frames.Bytes(FrameWriter.Count(FrameType.Credit, 0, 1024)), false, "request 0, which is never sent" },
        { "a request on the connection", Frames.Bytes(FrameWriter.Request(1, "REQUEST_METHOD\0GET", null, null)), false, "never sent on its connection" },
        { "a request shorter than its layout", Frames.Bytes(FrameWriter.Frame(FrameType.Request, 1, [1, 0, 0])), true, "shorter than its layout" },
        { "a queue message that is not a request", Frames.Bytes(FrameWriter.Frame(FrameType.Cancel, 1)), true, "not one whole REQUEST" },
        { "a frame no worker is sent", Frames.Bytes(FrameWriter.Frame(FrameType.Response, 1)), false, "which this side is never sent" },
        { "an ASGI frame to a WSGI worker", Frames.Bytes(FrameWriter.Frame(FrameType.AsgiDisconnect, 1)), false, "which a WSGI worker is never sent" },
    };

    [Theory]
    [MemberData(nameof(BadFramesFromTheHost))]
    public async Task AHostThatBreaksTheProtocol_EndsTheWorker_WithStatus4(string what, byte[] frame, bool viaQueue, string message)
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
        start.Environment["PYTHONPATH"] = PythonTestHost.AppsFolder;
        using var worker = Process.Start(start)!;
        using var connection = await listener.AcceptAsync();
        using var queue = new RequestQueue();
        var config = Encoding.UTF8.GetBytes($$"""{"proof": "host-secret", "app": "worker_apps:router", "threads": 1, "request_limit": {{queue.MessageLimit}}}""");
        UnixSockets.SendWithDescriptors(connection, Frames.Bytes(FrameWriter.Json(FrameType.Config, config)), queue.WorkerEnd);

        if (viaQueue)
        {
            Assert.True(queue.TrySend(frame));
        }
        else
        {
            await connection.SendAsync(frame);
        }

        var stderr = await worker.StandardError.ReadToEndAsync();
        await worker.WaitForExitAsync();

        Assert.True(worker.ExitCode == 4, $"{what}: the worker exited with {worker.ExitCode}: {stderr}");
        Assert.Contains("broke the worker protocol", stderr, StringComparison.Ordinal);
        Assert.Contains(message, stderr, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("wsgi")]
    [InlineData("asgi")]
    public async Task ALogRecordLargerThanAFrame_IsCut_WithAMarker_AndTheWorkerServesOn(string kind)
    {
        await using var host = kind == "wsgi" ? await StartAsync() : await AsgiHost.StartAsync(1);

        Assert.Equal("logged", await host.Client.GetStringAsync("/huge_log"));

        var record = (await host.Logs.WaitForAsync(e => e.Message.StartsWith("huge mmm", StringComparison.Ordinal)))[0];
        Assert.Contains("more bytes cut by GatewayBridge", record.Message, StringComparison.Ordinal);
        Assert.InRange(record.Message.Length, 1024 * 1024, WorkerProtocol.MaxPayload);
        Assert.DoesNotContain(host.Logs.Entries, e => e.EventId.Name is "WorkerProtocolError" or "WorkerExited");
        Assert.Single(host.Supervisor().Workers);
    }

    [Theory]
    [InlineData("wsgi")]
    [InlineData("asgi")]
    public async Task AnErrorLargerThanAFrame_IsCut_WithAMarker_AndAnswered500(string kind)
    {
        await using var host = kind == "wsgi" ? await StartAsync() : await AsgiHost.StartAsync(1);
        var pid = await host.GetPidAsync();

        using var response = await host.Client.GetAsync("/huge_error");

        Assert.Equal(HttpStatusCode.InternalServerError, response.StatusCode);
        var failure = (await host.Logs.WaitForAsync(e => e.EventId.Name is "GatewayAppFailed" or "AsgiAppFailed"))[0];
        Assert.Contains("more bytes cut by GatewayBridge", failure.Exception!.Message, StringComparison.Ordinal);
        Assert.Equal(pid, await host.GetPidAsync());
    }
}
