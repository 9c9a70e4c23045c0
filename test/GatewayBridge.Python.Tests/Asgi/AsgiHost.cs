using GatewayBridge.Python.Tests.Infrastructure;
using Microsoft.AspNetCore.Builder;
using Microsoft.Extensions.DependencyInjection;

namespace GatewayBridge.Python.Tests.Asgi;

/// <summary>Hosts of the ASGI test apps (apps/asgi_apps.py), in the host's interpreter (0 workers) or in worker processes.</summary>
public static class AsgiHost
{
    /// <summary>The two modes every ASGI behaviour is checked in.</summary>
    public static TheoryData<int> Modes => new() { 0, 1 };

    /// <summary>Serves <paramref name="appSpec"/> with WebSockets on and a native /native beside it.</summary>
    public static Task<TestHost> StartAsync(
        int workers, string appSpec = "asgi_apps:router", bool kestrel = true, Action<PythonOptions>? python = null, Action<GatewayOptions>? options = null, Action<WebApplication>? before = null) =>
        PythonTestHost.StartAsync(
            app =>
            {
                before?.Invoke(app);
                app.UseWebSockets();
                app.MapGet("/native", () => "native");
                app.UsePythonAsgiApp(appSpec, o => options?.Invoke(o));
            },
            kestrel,
            python: o =>
            {
                o.Workers = workers;
                python?.Invoke(o);
            });

    /// <summary>GETs <paramref name="path"/> until the app has more to say than "not yet" (what a background task recorded).</summary>
    public static Task<string> PollAsync(TestHost host, string path) =>
        Eventually.ReturnsAsync(() => host.Client.GetStringAsync(path), answer => answer != "not yet", $"an answer at {path}");

    /// <summary>The ASGI calls in flight in the host's worker processes, or in its interpreter's loop.</summary>
    internal static IReadOnlyList<AsgiCall> Calls(TestHost host)
    {
        var workers = host.App.Services.GetRequiredService<PythonWorkers>();
        return workers.Supervisors.Count > 0
            ? workers.Supervisors.SelectMany(s => s.Workers).SelectMany(w => w.Calls).OfType<AsgiCall>().ToList()
            : host.App.Services.GetRequiredService<EmbeddedPythonHost>().AsgiCalls;
    }
}
