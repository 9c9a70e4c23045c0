using GatewayBridge;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;

namespace Microsoft.AspNetCore.Builder;

/// <summary>
/// Extension methods that run a gateway app as terminal middleware.
/// </summary>
public static class GatewayApplicationBuilderExtensions
{
    /// <summary>
    /// Sends every request that no endpoint matched to <paramref name="gatewayApp"/>. SCRIPT_NAME is the
    /// request's <c>PathBase</c> (so <c>app.Map("/legacy", b =&gt; b.UseGatewayApp(...))</c> gives "/legacy").
    /// </summary>
    /// <param name="app">The application builder.</param>
    /// <param name="gatewayApp">The gateway app.</param>
    /// <returns>The application builder.</returns>
    public static IApplicationBuilder UseGatewayApp(this IApplicationBuilder app, GatewayApp gatewayApp)
    {
        ArgumentNullException.ThrowIfNull(app);
        ArgumentNullException.ThrowIfNull(gatewayApp);
        return app.UseGatewayApp(gatewayApp, static _ => { });
    }

    /// <summary>
    /// Sends every request that no endpoint matched to <paramref name="gatewayApp"/>, with options.
    /// </summary>
    /// <param name="app">The application builder.</param>
    /// <param name="gatewayApp">The gateway app.</param>
    /// <param name="configure">Configures the <see cref="GatewayOptions"/> of this app.</param>
    /// <returns>The application builder.</returns>
    public static IApplicationBuilder UseGatewayApp(this IApplicationBuilder app, GatewayApp gatewayApp, Action<GatewayOptions> configure)
    {
        ArgumentNullException.ThrowIfNull(app);
        ArgumentNullException.ThrowIfNull(gatewayApp);
        ArgumentNullException.ThrowIfNull(configure);

        var handler = GatewayHandlerFactory.Create(app.ApplicationServices, gatewayApp, configure);
        return app.Use(next => new GatewayMiddleware(next, handler).Invoke);
    }
}
