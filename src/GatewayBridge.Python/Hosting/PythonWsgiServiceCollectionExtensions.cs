using GatewayBridge.Python;
using Microsoft.Extensions.DependencyInjection.Extensions;
using Microsoft.Extensions.Hosting;

namespace Microsoft.Extensions.DependencyInjection;

/// <summary>
/// Extension methods that register the host's Python: its own interpreter, or supervised worker processes.
/// </summary>
public static class PythonWsgiServiceCollectionExtensions
{
    /// <summary>
    /// Registers the Python that runs the host's Python WSGI apps: the process's embedded interpreter and its threads
    /// (the default), or, with <see cref="PythonWsgiOptions.Workers"/> ≥ 1, supervised worker processes
    /// (<see cref="IPythonWorkers"/>). Either starts with the host and stops with it. Needed by <c>UsePythonWsgiApp</c>
    /// and <c>MapPythonWsgiApp</c>.
    /// </summary>
    /// <param name="services">The service collection.</param>
    /// <param name="configure">Configures the <see cref="PythonWsgiOptions"/>.</param>
    /// <returns>The service collection.</returns>
    public static IServiceCollection AddPythonWsgi(this IServiceCollection services, Action<PythonWsgiOptions>? configure = null)
    {
        ArgumentNullException.ThrowIfNull(services);
        services.AddOptions<PythonWsgiOptions>().PostConfigure(static o => o.Validate());
        if (configure is not null)
        {
            services.Configure(configure);
        }

        services.TryAddSingleton<EmbeddedPythonHost>();
        services.TryAddSingleton<WorkerSupervisor>();
        services.TryAddSingleton<IPythonWorkers>(static s => s.GetRequiredService<WorkerSupervisor>());
        services.TryAddEnumerable(ServiceDescriptor.Singleton<IHostedService, EmbeddedPythonHost>(static s => s.GetRequiredService<EmbeddedPythonHost>()));
        services.TryAddEnumerable(ServiceDescriptor.Singleton<IHostedService, WorkerSupervisor>(static s => s.GetRequiredService<WorkerSupervisor>()));
        return services;
    }
}
