using GatewayBridge.Python;
using Microsoft.Extensions.DependencyInjection.Extensions;
using Microsoft.Extensions.Hosting;

namespace Microsoft.Extensions.DependencyInjection;

/// <summary>
/// Extension methods that register the host's Python: its own interpreter, or supervised worker processes.
/// </summary>
public static class PythonServiceCollectionExtensions
{
    /// <summary>
    /// Registers the Python that runs the host's Python apps, WSGI and ASGI: the process's embedded interpreter and its
    /// threads (the default), or, with <see cref="PythonOptions.Workers"/> ≥ 1, supervised worker processes
    /// (<see cref="IPythonWorkers"/>). Either starts with the host and stops with it. Needed by <c>UsePythonWsgiApp</c>,
    /// <c>MapPythonWsgiApp</c>, <c>UsePythonAsgiApp</c> and <c>MapPythonAsgiApp</c>.
    /// </summary>
    /// <param name="services">The service collection.</param>
    /// <param name="configure">Configures the <see cref="PythonOptions"/>.</param>
    /// <returns>The service collection.</returns>
    public static IServiceCollection AddPython(this IServiceCollection services, Action<PythonOptions>? configure = null)
    {
        ArgumentNullException.ThrowIfNull(services);
        services.AddOptions<PythonOptions>().PostConfigure(static o => o.Validate());
        if (configure is not null)
        {
            services.Configure(configure);
        }

        services.TryAddSingleton<EmbeddedPythonHost>();
        services.TryAddSingleton<PythonWorkers>();
        services.TryAddSingleton<IPythonWorkers>(static s => s.GetRequiredService<PythonWorkers>());
        services.TryAddEnumerable(ServiceDescriptor.Singleton<IHostedService, EmbeddedPythonHost>(static s => s.GetRequiredService<EmbeddedPythonHost>()));
        services.TryAddEnumerable(ServiceDescriptor.Singleton<IHostedService, PythonWorkers>(static s => s.GetRequiredService<PythonWorkers>()));
        return services;
    }
}
