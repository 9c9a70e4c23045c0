using GatewayBridge.Python;
using Microsoft.Extensions.DependencyInjection.Extensions;
using Microsoft.Extensions.Hosting;

namespace Microsoft.Extensions.DependencyInjection;

/// <summary>
/// Extension methods that register the embedded Python interpreter for Python WSGI apps.
/// </summary>
public static class PythonWsgiServiceCollectionExtensions
{
    /// <summary>
    /// Registers the process's Python interpreter and this host's Python threads: the threads start with the host and
    /// stop with it. Needed by <c>UsePythonWsgiApp</c> and <c>MapPythonWsgiApp</c>.
    /// </summary>
    /// <param name="services">The service collection.</param>
    /// <param name="configure">Configures the <see cref="PythonWsgiOptions"/>.</param>
    /// <returns>The service collection.</returns>
    public static IServiceCollection AddPythonWsgi(this IServiceCollection services, Action<PythonWsgiOptions>? configure = null)
    {
        ArgumentNullException.ThrowIfNull(services);
        services.AddOptions<PythonWsgiOptions>();
        if (configure is not null)
        {
            services.Configure(configure);
        }

        services.TryAddSingleton<EmbeddedPythonHost>();
        services.TryAddEnumerable(ServiceDescriptor.Singleton<IHostedService, EmbeddedPythonHost>(static s => s.GetRequiredService<EmbeddedPythonHost>()));
        return services;
    }
}
