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

    /// <summary>
    /// Starts one more worker for each app and keeps it from now on, as gunicorn's master does on SIGTTIN.
    /// </summary>
    /// <param name="cancellationToken">Stops waiting for the new workers to be ready.</param>
    /// <returns>A task that completes when each app's new worker serves.</returns>
    Task AddWorkerAsync(CancellationToken cancellationToken = default);

    /// <summary>
    /// Retires one worker of each app that has more than one, as gunicorn's master does on SIGTTOU: it takes nothing new,
    /// finishes what it holds and exits, and is not replaced.
    /// </summary>
    /// <returns>How many workers were retired.</returns>
    int RemoveWorker();
}
