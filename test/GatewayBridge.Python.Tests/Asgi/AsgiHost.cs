using GatewayBridge.Python.Tests.Infrastructure;
using Microsoft.AspNetCore.Builder;

namespace GatewayBridge.Python.Tests.Asgi;

/// <summary>Hosts of the ASGI test apps (apps/asgi_apps.py), in the host's interpreter (0 workers) or in worker processes.</summary>
public static class AsgiHost
{
    /// <summary>The two modes every ASGI behaviour is checked in.</summary>
    public static TheoryData<int> Modes => new() { 0, 1 };

    /// <summary>Serves <paramref name="appSpec"/> with WebSockets on and a native /native beside it.</summary>
    public static Task<TestHost> StartAsync(
        int workers, string appSpec = "asgi_apps:router", bool kestrel = true, Action<PythonWsgiOptions>? python = null, Action<GatewayOptions>? options = null, Action<WebApplication>? before = null) =>
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
}
