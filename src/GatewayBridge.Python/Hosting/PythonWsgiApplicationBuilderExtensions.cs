using GatewayBridge;
using GatewayBridge.Python;

namespace Microsoft.AspNetCore.Builder;

/// <summary>
/// Extension methods that run a Python WSGI app as terminal middleware.
/// </summary>
public static class PythonWsgiApplicationBuilderExtensions
{
    /// <summary>
    /// Sends every request that no endpoint matched to the Python WSGI app <paramref name="appSpec"/>, gunicorn's
    /// <c>module:callable</c> or <c>module:factory()</c>. The app is imported now: one that cannot be loaded fails here.
    /// </summary>
    /// <param name="app">The application builder.</param>
    /// <param name="appSpec">The app, such as <c>flaskapp:app</c>.</param>
    /// <returns>The application builder.</returns>
    public static IApplicationBuilder UsePythonWsgiApp(this IApplicationBuilder app, string appSpec)
    {
        ArgumentNullException.ThrowIfNull(app);
        ArgumentException.ThrowIfNullOrEmpty(appSpec);
        return app.UsePythonWsgiApp(appSpec, static _ => { });
    }

    /// <summary>
    /// Sends every request that no endpoint matched to the Python WSGI app <paramref name="appSpec"/>, with options.
    /// </summary>
    /// <param name="app">The application builder.</param>
    /// <param name="appSpec">The app, such as <c>flaskapp:app</c>.</param>
    /// <param name="configure">Configures the <see cref="GatewayOptions"/> of this app.</param>
    /// <returns>The application builder.</returns>
    public static IApplicationBuilder UsePythonWsgiApp(this IApplicationBuilder app, string appSpec, Action<GatewayOptions> configure)
    {
        ArgumentNullException.ThrowIfNull(app);
        ArgumentException.ThrowIfNullOrEmpty(appSpec);
        ArgumentNullException.ThrowIfNull(configure);

        var handler = PythonHandlerFactory.Create(app.ApplicationServices, appSpec, configure);
        return app.Use(next => new GatewayMiddleware(next, handler).Invoke);
    }
}
