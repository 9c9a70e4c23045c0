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

    [Fact]
    public async Task ALazyBody_ThatIsAllItsContentLength_GoesInOneStep_ClosedFirst_AndAnyOtherLazyBodyChunkByChunk()
    {
        await using var host = await PythonTestHost.StartAsync("wsgi_apps:hello");
        PythonTestHost.RunPython("""
            from gatewaybridge import wsgi

            class Body:
                def __init__(self, chunks):
                    self.chunks = chunks
                    self.closed = 0
                def __iter__(self):
                    return iter(self.chunks)
                def close(self):
                    self.closed += 1

            class Channel:
                def write(self, call_id, head, data):
                    return True
                def errors_line(self, line):
                    pass

            def run(chunks, length):
                body = Body(chunks)
                def app(environ, start_response):
                    headers = [("Content-Type", "text/plain")] + ([("content-LENGTH", length)] if length else [])
                    start_response("200 OK", headers)
                    return body
                server = wsgi.Server(Channel(), multithread=False, multiprocess=False)
                steps = [server.start(app, 0, "REQUEST_METHOD\0GET\0REQUEST_URI\0/", None, 0, None)]
                while steps[-1][2] == wsgi.CHUNK:
                    steps.append(server.resume(steps[-1][3]))
                return [(s[1], s[2]) for s in steps], body.closed

            # As Flask and Django return a response: a lazy iterable of one chunk that is all the declared length.
            assert run([b"Hello", b""], "5") == ([(b"Hello", wsgi.WHOLE)], 1), run([b"Hello", b""], "5")
            # Without a length, or short of it, each chunk goes out as the app yields it.
            assert run([b"Hello"], None) == ([(b"Hello", wsgi.CHUNK), (b"", wsgi.END)], 1), run([b"Hello"], None)
            assert run([b"Hel", b"lo"], "5") == ([(b"Hel", wsgi.CHUNK), (b"lo", wsgi.CHUNK), (b"", wsgi.END)], 1)
            # Bytes past the declared length still reach the host, which refuses them, as before.
            assert run([b"Hello", b"!"], "5") == ([(b"Hello", wsgi.CHUNK), (b"!", wsgi.CHUNK), (b"", wsgi.END)], 1), run([b"Hello", b"!"], "5")
            """);
    }
}
