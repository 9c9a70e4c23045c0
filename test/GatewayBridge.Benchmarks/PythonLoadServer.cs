using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;

namespace GatewayBridge.Benchmarks;

/// <summary>
/// A Python WSGI or ASGI app on Kestrel through GatewayBridge, for python-load.sh: <c>/native</c> is a minimal API beside it,
/// GET /_alloc answers for the readiness check.
/// </summary>
internal static class PythonLoadServer
{
    /// <param name="workers">0 for the host's interpreter, or the worker processes per app.</param>
    /// <param name="asgi">Whether the app is an ASGI app.</param>
    public static async Task RunAsync(string appSpec, int port, int threads, int workers, bool asgi = false)
    {
        var builder = WebApplication.CreateSlimBuilder(new WebApplicationOptions { EnvironmentName = "Production" });
        builder.Logging.ClearProviders();
        builder.WebHost.UseUrls($"http://127.0.0.1:{port}");
        builder.Services.AddPython(o =>
        {
            o.Python = "/usr/bin/python3";
            o.PythonPath.Add(Path.Combine(AppContext.BaseDirectory, "python"));
            o.Workers = workers;
            o.Threads = threads > 0 ? threads : null;
        });
        var app = builder.Build();
        app.MapGet("/_alloc", () => "ready");
        app.MapGet("/native", () => "ok");
        if (asgi)
        {
            app.UsePythonAsgiApp(appSpec);
        }
        else
        {
            app.UsePythonWsgiApp(appSpec);
        }

        await app.RunAsync();
    }
}
