using GatewayBridge.Serve;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;

namespace GatewayBridge.Benchmarks;

/// <summary>
/// A Python WSGI or ASGI app served as <c>gatewaybridge serve</c> serves it (the same code, the same Kestrel settings),
/// for python-load.sh and asgi-load.sh: <c>/native</c> is a minimal API beside it, GET /_alloc answers for the readiness
/// check.
/// </summary>
internal static class PythonLoadServer
{
    /// <param name="workers">0 for the host's interpreter, or the worker processes per app.</param>
    /// <param name="asgi">Whether the app is an ASGI app.</param>
    public static async Task RunAsync(string appSpec, int port, int threads, int workers, bool asgi = false)
    {
        PythonServingDefaults.BeforeFirstSocket();
        List<string> args = ["serve", appSpec, "--python", "/usr/bin/python3", "--chdir", Path.Combine(AppContext.BaseDirectory, "python"),
            "--urls", $"http://127.0.0.1:{port}", "--interface", asgi ? "asgi" : "wsgi"];
        if (workers > 0)
        {
            args.AddRange(["--workers", $"{workers}"]);
        }

        if (threads > 0)
        {
            args.AddRange(["--threads", $"{threads}"]);
        }

        Directory.SetCurrentDirectory(Path.Combine(AppContext.BaseDirectory, "python"));
        var app = ServeCommand.BuildPython(appSpec, ServeArguments.Parse([.. args]), web =>
        {
            web.MapGet("/_alloc", () => "ready");
            web.MapGet("/native", () => "ok");
        });
        await app.RunAsync();
    }
}
