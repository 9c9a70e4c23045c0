using System.Diagnostics.CodeAnalysis;
using GatewayBridge;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Routing;
using Microsoft.AspNetCore.Routing.Patterns;

namespace Microsoft.AspNetCore.Builder;

/// <summary>
/// Extension methods that mount a gateway app under a path prefix as a routed endpoint.
/// </summary>
public static class GatewayEndpointRouteBuilderExtensions
{
    private const string PathInfoParameter = "gatewayPathInfo";

    /// <summary>
    /// Mounts <paramref name="gatewayApp"/> at <paramref name="prefix"/>: the prefix and everything under it reach
    /// the app, with SCRIPT_NAME the mount point and PATH_INFO the rest.
    /// </summary>
    /// <param name="endpoints">The endpoint route builder.</param>
    /// <param name="prefix">The mount point, such as <c>/legacy</c>.</param>
    /// <param name="gatewayApp">The gateway app.</param>
    /// <returns>A builder for conventions such as <c>RequireAuthorization()</c>.</returns>
    public static IEndpointConventionBuilder MapGatewayApp(
        this IEndpointRouteBuilder endpoints, [StringSyntax("Route")] string prefix, GatewayApp gatewayApp)
    {
        ArgumentNullException.ThrowIfNull(endpoints);
        ArgumentNullException.ThrowIfNull(prefix);
        ArgumentNullException.ThrowIfNull(gatewayApp);
        return endpoints.MapGatewayApp(prefix, gatewayApp, static _ => { });
    }

    /// <summary>
    /// Mounts <paramref name="gatewayApp"/> at <paramref name="prefix"/>, with options.
    /// </summary>
    /// <param name="endpoints">The endpoint route builder.</param>
    /// <param name="prefix">The mount point, such as <c>/legacy</c>.</param>
    /// <param name="gatewayApp">The gateway app.</param>
    /// <param name="configure">Configures the <see cref="GatewayOptions"/> of this app.</param>
    /// <returns>A builder for conventions such as <c>RequireAuthorization()</c>.</returns>
    public static IEndpointConventionBuilder MapGatewayApp(
        this IEndpointRouteBuilder endpoints, [StringSyntax("Route")] string prefix, GatewayApp gatewayApp, Action<GatewayOptions> configure)
    {
        ArgumentNullException.ThrowIfNull(endpoints);
        ArgumentNullException.ThrowIfNull(prefix);
        ArgumentNullException.ThrowIfNull(gatewayApp);
        ArgumentNullException.ThrowIfNull(configure);

        var handler = GatewayHandlerFactory.Create(endpoints.ServiceProvider, gatewayApp, configure);
        return MapHandler(endpoints, prefix, handler).WithDisplayName($"Gateway app {prefix}");
    }

    /// <summary>The routed endpoint behind every <c>Map*App</c>: the prefix and everything under it.</summary>
    internal static IEndpointConventionBuilder MapHandler(IEndpointRouteBuilder endpoints, string prefix, IGatewayRequestHandler handler)
    {
        var pattern = RoutePatternFactory.Parse($"{prefix.TrimEnd('/')}/{{**{PathInfoParameter}}}");
        return endpoints.Map(pattern, context =>
        {
            var (scriptName, pathInfo) = RequestPath.AtMount(context.Request, context.GetRouteValue(PathInfoParameter) as string);
            return handler.HandleAsync(context, scriptName, pathInfo);
        });
    }
}
