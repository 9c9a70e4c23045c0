using System.Diagnostics;
using GatewayBridge.Python.Tests.Infrastructure;

namespace GatewayBridge.Python.Tests;

/// <summary>The Python the package ships is linted like any other code.</summary>
public class ShimModuleTests
{
    [Fact]
    public async Task TheShimAndTheTestApps_PassPyflakes()
    {
        string[] files =
        [
            .. Directory.GetFiles(Path.Combine(RepositoryFiles.Root, "src", "GatewayBridge.Python", "Shim"), "*.py"),
            .. Directory.GetFiles(PythonTestHost.AppsFolder, "*.py"),
        ];
        using var process = Process.Start(new ProcessStartInfo(PythonTestHost.Python, ["-m", "pyflakes", .. files])
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
        })!;
        var output = await process.StandardOutput.ReadToEndAsync() + await process.StandardError.ReadToEndAsync();
        await process.WaitForExitAsync();

        Assert.True(process.ExitCode == 0, $"pyflakes (Debian's python3-pyflakes) found: {output}");
    }

    [Fact]
    public void TheFrameConstants_AreTheSameOnBothSides()
    {
        // gatewaybridge_frames.py and WorkerFrames.cs describe one protocol: the names the Python side assigns from
        // its range() and the flags must be the C# constants' values.
        var python = File.ReadAllText(Path.Combine(RepositoryFiles.Root, "src", "GatewayBridge.Python", "Shim", "gatewaybridge_frames.py"));
        var constants = typeof(WorkerFrames).GetFields(System.Reflection.BindingFlags.Public | System.Reflection.BindingFlags.Static)
            .Where(f => f.IsLiteral)
            .ToDictionary(f => f.Name, f => Convert.ToInt64(f.GetRawConstantValue(), System.Globalization.CultureInfo.InvariantCulture));

        Assert.Contains("HELLO, READY, FAILED, RESPONSE, FILE, ERROR, CLOSE_FAILED, LOG, RETIRE, GOODBYE, TAKEN, DONE_APP = range(1, 13)", python, StringComparison.Ordinal);
        Assert.Equal(Enumerable.Range(1, 12).Select(i => (long)i), new[] { "Hello", "Ready", "Failed", "Response", "File", "Error", "CloseFailed", "Log", "Retire", "Goodbye", "Taken", "DoneApp" }.Select(n => constants[n]));
        Assert.Contains("CONFIG, REQUEST, CREDIT, CANCEL, DONE, STOP = range(20, 26)", python, StringComparison.Ordinal);
        Assert.Equal([20, 21, 22, 23, 24, 25], new[] { "Config", "Request", "Credit", "Cancel", "Done", "Stop" }.Select(n => constants[n]));
        Assert.Contains("HEAD, LENGTH, END, WHOLE, DESCRIPTOR = 1, 2, 4, 8, 16", python, StringComparison.Ordinal);
        Assert.Equal([1, 2, 4, 8, 16], new[] { "HeadFlag", "LengthFlag", "EndFlag", "WholeFlag", "DescriptorFlag" }.Select(n => constants[n]));
        Assert.Contains($"WINDOW = {constants["Window"] / 1024} * 1024", python, StringComparison.Ordinal);
        Assert.Contains($"HEADER = struct.Struct(\"<IBBI\")", python, StringComparison.Ordinal);
        Assert.Equal(10, constants["HeaderSize"]);

        // The ASGI server's own frames and flags (gatewaybridge_asgi.py).
        var asgi = File.ReadAllText(Path.Combine(RepositoryFiles.Root, "src", "GatewayBridge.Python", "Shim", "gatewaybridge_asgi.py"));
        Assert.Contains("HTTP, BODY, DISCONNECT, WS_CONNECT, WS_MESSAGE, WS_DISCONNECT = range(30, 36)", asgi, StringComparison.Ordinal);
        Assert.Equal(Enumerable.Range(30, 6).Select(i => (long)i), new[] { "AsgiHttp", "AsgiBody", "AsgiDisconnect", "WsConnect", "WsMessage", "WsDisconnect" }.Select(n => constants[n]));
        Assert.Contains("START, RESPONSE_BODY, WS_ACCEPT, WS_SEND, WS_CLOSE = range(40, 45)", asgi, StringComparison.Ordinal);
        Assert.Equal(Enumerable.Range(40, 5).Select(i => (long)i), new[] { "AsgiStart", "AsgiResponseBody", "WsAccept", "WsSend", "WsClose" }.Select(n => constants[n]));
        Assert.Contains("MORE = TEXT = 1\nEMPTY = 2", asgi.ReplaceLineEndings("\n"), StringComparison.Ordinal);
        Assert.Equal([1, 1, 2], new[] { "MoreFlag", "TextFlag", "EmptyFlag" }.Select(n => constants[n]));
    }

    [Fact]
    public async Task Close_CallsTheAppsCloseOnce_HoweverOftenTheHostAsks()
    {
        // The host asks again when a response ends early after the shim already closed it (a failed flush of
        // wsgi.errors, say); the app's close() must still run once.
        await using var host = await PythonTestHost.StartAsync("wsgi_apps:hello");
        PythonTestHost.RunPython("""
            import gatewaybridge_wsgi as shim

            class Body:
                closes = 0
                def __iter__(self):
                    yield b"x"
                def close(self):
                    Body.closes += 1

            def app(environ, start_response):
                start_response("200 OK", [("Content-Type", "text/plain")])
                return Body()

            head, data, kind, call = shim.start(app, 0, "REQUEST_METHOD\0GET\0REQUEST_URI\0/", None, 0, None)
            assert kind == shim.CHUNK, kind
            shim.close(call)
            shim.close(call)
            assert Body.closes == 1, Body.closes
            """);
    }
}
