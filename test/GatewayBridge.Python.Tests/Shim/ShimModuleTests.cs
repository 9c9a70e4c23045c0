using System.Diagnostics;
using GatewayBridge.Python.Tests.Infrastructure;

namespace GatewayBridge.Python.Tests.Shim;

/// <summary>The Python the package ships is linted like any other code.</summary>
public class ShimModuleTests
{
    [Fact]
    public async Task TheShimAndTheTestApps_PassPyflakes()
    {
        string[] files =
        [
            .. Directory.GetFiles(Path.Combine(RepositoryFiles.Root, "src", "GatewayBridge.Python", "Shim"), "*.py", SearchOption.AllDirectories),
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
            from gatewaybridge import wsgi

            class Body:
                closes = 0
                def __iter__(self):
                    yield b"x"
                def close(self):
                    Body.closes += 1

            def app(environ, start_response):
                start_response("200 OK", [("Content-Type", "text/plain")])
                return Body()

            class Channel:
                def write(self, call_id, head, data):
                    return True
                def errors_line(self, line):
                    pass

            server = wsgi.Server(Channel(), multithread=False, multiprocess=False)
            head, data, kind, call = server.start(app, 0, "REQUEST_METHOD\0GET\0REQUEST_URI\0/", None, 0, None)
            assert kind == wsgi.CHUNK, kind
            server.close(call)
            server.close(call)
            assert Body.closes == 1, Body.closes
            """);
    }
}
