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
            Path.Combine(RepositoryFiles.Root, "src", "GatewayBridge.Python", "Shim", "gatewaybridge_wsgi.py"),
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
