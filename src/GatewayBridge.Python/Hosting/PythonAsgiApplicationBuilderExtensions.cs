using GatewayBridge;
using GatewayBridge.Python;

namespace Microsoft.AspNetCore.Builder;

/// <summary>
/// Extension methods that run a Python ASGI app (Starlette, FastAPI, Django's ASGI handler) as terminal middleware.
/// </summary>
public static class PythonAsgiApplicationBuilderExtensions
{
    /// <summary>
    /// Sends every request that no endpoint matched to the Python ASGI app <paramref name="appSpec"/>
    /// (<c>module:app</c> or <c>module:factory()</c>). The app is imported and its lifespan startup run now: an app that
    /// cannot be loaded, or whose startup fails, fails here. WebSockets need <c>app.UseWebSockets()</c> first.
    /// </summary>
    /// <param name="app">The application builder.</param>
    /// <param name="appSpec">The app, such as <c>main:app</c>.</param>
    /// <returns>The application builder.</returns>
    public static IApplicationBuilder UsePythonAsgiApp(this IApplicationBuilder app, string appSpec)
    {
        ArgumentNullException.ThrowIfNull(app);
        ArgumentException.ThrowIfNullOrEmpty(appSpec);
        return app.UsePythonAsgiApp(appSpec, static _ => { });
    }

    /// <summary>
    /// Sends every request that no endpoint matched to the Python ASGI app <paramref name="appSpec"/>, with options.
    /// </summary>
    /// <param name="app">The application builder.</param>
    /// <param name="appSpec">The app, such as <c>main:app</c>.</param>
    /// <param name="configure">Configures the <see cref="GatewayOptions"/> of this app (its <c>QueueLimit</c> applies).</param>
    /// <returns>The application builder.</returns>
    public static IApplicationBuilder UsePythonAsgiApp(this IApplicationBuilder app, string appSpec, Action<GatewayOptions> configure)
    {
        ArgumentNullException.ThrowIfNull(app);
        ArgumentException.ThrowIfNullOrEmpty(appSpec);
        ArgumentNullException.ThrowIfNull(configure);

        var handler = PythonHandlerFactory.CreateAsgi(app.ApplicationServices, appSpec, configure);
        return app.Use(next => new GatewayMiddleware(next, handler).Invoke);
    }
}
