using System.Diagnostics.CodeAnalysis;
using GatewayBridge;
using GatewayBridge.Python;
using Microsoft.AspNetCore.Routing;

namespace Microsoft.AspNetCore.Builder;

/// <summary>
/// Extension methods that mount a Python WSGI app under a path prefix as a routed endpoint.
/// </summary>
public static class PythonWsgiEndpointRouteBuilderExtensions
{
    /// <summary>
    /// Mounts the Python WSGI app <paramref name="appSpec"/> at <paramref name="prefix"/>: SCRIPT_NAME is the mount
    /// point and PATH_INFO the rest. The app is imported now: one that cannot be loaded fails here.
    /// </summary>
    /// <param name="endpoints">The endpoint route builder.</param>
    /// <param name="prefix">The mount point, such as <c>/legacy</c>.</param>
    /// <param name="appSpec">The app, such as <c>flaskapp:app</c>.</param>
    /// <returns>A builder for conventions such as <c>RequireAuthorization()</c>.</returns>
    public static IEndpointConventionBuilder MapPythonWsgiApp(
        this IEndpointRouteBuilder endpoints, [StringSyntax("Route")] string prefix, string appSpec)
    {
        ArgumentNullException.ThrowIfNull(endpoints);
        ArgumentNullException.ThrowIfNull(prefix);
        ArgumentException.ThrowIfNullOrEmpty(appSpec);
        return endpoints.MapPythonWsgiApp(prefix, appSpec, static _ => { });
    }

    /// <summary>
    /// Mounts the Python WSGI app <paramref name="appSpec"/> at <paramref name="prefix"/>, with options.
    /// </summary>
    /// <param name="endpoints">The endpoint route builder.</param>
    /// <param name="prefix">The mount point, such as <c>/legacy</c>.</param>
    /// <param name="appSpec">The app, such as <c>flaskapp:app</c>.</param>
    /// <param name="configure">Configures the <see cref="GatewayOptions"/> of this app.</param>
    /// <returns>A builder for conventions such as <c>RequireAuthorization()</c>.</returns>
    public static IEndpointConventionBuilder MapPythonWsgiApp(
        this IEndpointRouteBuilder endpoints, [StringSyntax("Route")] string prefix, string appSpec, Action<GatewayOptions> configure)
    {
        ArgumentNullException.ThrowIfNull(endpoints);
        ArgumentNullException.ThrowIfNull(prefix);
        ArgumentException.ThrowIfNullOrEmpty(appSpec);
        ArgumentNullException.ThrowIfNull(configure);

        var handler = PythonHandlerFactory.Create(endpoints.ServiceProvider, appSpec, configure);
        return GatewayEndpointRouteBuilderExtensions.MapHandler(endpoints, prefix, handler).WithDisplayName($"Python WSGI app {appSpec} at {prefix}");
    }
}
