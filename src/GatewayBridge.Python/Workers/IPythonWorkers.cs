namespace GatewayBridge.Python;

/// <summary>
/// The host's Python worker processes (<see cref="PythonOptions.Workers"/> ≥ 1), as a service: what gunicorn's
/// master does on SIGHUP.
/// </summary>
public interface IPythonWorkers
{
    /// <summary>
    /// Replaces every worker with a freshly started one, one at a time, each loading the app's code anew; a worker
    /// stops taking requests only once its replacement is ready, so no request fails. A replacement that cannot load
    /// the app leaves the running workers serving, and its failure is thrown.
    /// </summary>
    /// <param name="cancellationToken">Stops waiting (the workers already replaced stay replaced).</param>
    /// <returns>A task that completes when every worker has been replaced.</returns>
    Task ReloadAsync(CancellationToken cancellationToken = default);
}
