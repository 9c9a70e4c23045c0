using System.Diagnostics.CodeAnalysis;
using GatewayBridge.Python;
using Microsoft.AspNetCore.Routing;

namespace Microsoft.AspNetCore.Builder;

/// <summary>
/// Extension methods that mount a Python ASGI app under a path prefix as a routed endpoint.
/// </summary>
public static class PythonAsgiEndpointRouteBuilderExtensions
{
    /// <summary>
    /// Mounts the Python ASGI app <paramref name="appSpec"/> at <paramref name="prefix"/>: the scope's
    /// <c>root_path</c> is the mount point and <c>path</c> the rest, as uvicorn's <c>--root-path</c> gives them. The
    /// app is imported and its lifespan startup run now.
    /// </summary>
    /// <param name="endpoints">The endpoint route builder.</param>
    /// <param name="prefix">The mount point, such as <c>/api</c>.</param>
    /// <param name="appSpec">The app, such as <c>main:app</c>.</param>
    /// <returns>A builder for conventions such as <c>RequireAuthorization()</c>.</returns>
    public static IEndpointConventionBuilder MapPythonAsgiApp(
        this IEndpointRouteBuilder endpoints, [StringSyntax("Route")] string prefix, string appSpec)
    {
        ArgumentNullException.ThrowIfNull(endpoints);
        ArgumentNullException.ThrowIfNull(prefix);
        ArgumentException.ThrowIfNullOrEmpty(appSpec);
        return endpoints.MapPythonAsgiApp(prefix, appSpec, static _ => { });
    }

    /// <summary>
    /// Mounts the Python ASGI app <paramref name="appSpec"/> at <paramref name="prefix"/>, with options.
    /// </summary>
    /// <param name="endpoints">The endpoint route builder.</param>
    /// <param name="prefix">The mount point, such as <c>/api</c>.</param>
    /// <param name="appSpec">The app, such as <c>main:app</c>.</param>
    /// <param name="configure">Configures the <see cref="GatewayBridge.GatewayOptions"/> of this app.</param>
    /// <returns>A builder for conventions such as <c>RequireAuthorization()</c>.</returns>
    public static IEndpointConventionBuilder MapPythonAsgiApp(
        this IEndpointRouteBuilder endpoints, [StringSyntax("Route")] string prefix, string appSpec, Action<GatewayBridge.GatewayOptions> configure)
    {
        ArgumentNullException.ThrowIfNull(endpoints);
        ArgumentNullException.ThrowIfNull(prefix);
        ArgumentException.ThrowIfNullOrEmpty(appSpec);
        ArgumentNullException.ThrowIfNull(configure);

        var handler = PythonHandlerFactory.CreateAsgi(endpoints.ServiceProvider, appSpec, configure);
        return GatewayEndpointRouteBuilderExtensions.MapHandler(endpoints, prefix, handler).WithDisplayName($"Python ASGI app {appSpec} at {prefix}");
    }
}
