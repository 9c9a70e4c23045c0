using System.ComponentModel;
using GatewayBridge.Python;

namespace Microsoft.Extensions.DependencyInjection;

/// <summary>The 0.1 name of <see cref="PythonServiceCollectionExtensions.AddPython"/>, kept for one release.</summary>
[EditorBrowsable(EditorBrowsableState.Never)]
public static class PythonWsgiServiceCollectionExtensions
{
    /// <summary>Registers the host's Python, as <see cref="PythonServiceCollectionExtensions.AddPython"/> does.</summary>
    /// <param name="services">The service collection.</param>
    /// <param name="configure">Configures the options, by their 0.1 name.</param>
    /// <returns>The service collection.</returns>
    [Obsolete("Use AddPython: it registers the Python of WSGI and ASGI apps alike. AddPythonWsgi is removed in 0.3.")]
    public static IServiceCollection AddPythonWsgi(this IServiceCollection services, Action<PythonWsgiOptions>? configure = null) =>
        services.AddPython(configure is null ? null : options => configure(new PythonWsgiOptions(options)));
}
