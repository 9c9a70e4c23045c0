using System.Diagnostics.Metrics;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;

namespace GatewayBridge.Python;

/// <summary>
/// One host's Python worker processes (<c>PythonOptions.Workers</c> ≥ 1): the runtime folder and socket they connect
/// to, a <see cref="WorkerSupervisor"/> per mounted app, and the watchdog that cuts calls that run too long. An app's
/// workers start where it is mounted (so an app that cannot be imported stops the host's startup) and stop after the
/// server has drained its requests.
/// </summary>
internal sealed class PythonWorkers : IHostedLifecycleService, IPythonWorkers, IAsyncDisposable, IDisposable
{
    private readonly PythonOptions _options;
    private readonly string _contentRoot;
    private readonly ILoggerFactory _loggers;
    private readonly ILogger _logger;
    private readonly GatewayMetrics _gatewayMetrics;
    private readonly PythonWorkerMetrics _metrics;
    private readonly int _pythonLogLevel;
    private readonly Lock _lock = new();
    private readonly List<WorkerSupervisor> _supervisors = [];
    private readonly CancellationTokenSource _stopping = new();
    private WorkerRuntime? _runtime;
    private SourceWatcher? _watcher;
    private Task? _stop;

    public PythonWorkers(IOptions<PythonOptions> options, IHostEnvironment environment, ILoggerFactory loggers, IMeterFactory? meterFactory = null)
    {
        _options = options.Value;
        _contentRoot = environment.ContentRootPath;
        _loggers = loggers;
        _logger = loggers.CreateLogger<WorkerSupervisor>();
        _gatewayMetrics = new GatewayMetrics(meterFactory);
        _metrics = new PythonWorkerMetrics(meterFactory);
        _pythonLogLevel = PythonLogLevels.ToPython(PythonLogLevels.Lowest(loggers));
    }

    /// <summary>The runtime folder and socket, once the first app's workers have started.</summary>
    public WorkerRuntime Runtime => _runtime ?? throw new InvalidOperationException("No Python worker has started.");

    /// <summary>The supervisors of the mounted apps, for the health check.</summary>
    public IReadOnlyList<WorkerSupervisor> Supervisors
    {
        get
        {
            lock (_lock)
            {
                return [.. _supervisors];
            }
        }
    }

    /// <summary>Starts the app's workers and waits until each has loaded it; throws with the app's traceback if one cannot.</summary>
    public WorkerSupervisor Start(string appSpec, bool validate, int queueLimit, bool asgi)
    {
        var runtime = EnsureStarted();
        var accounting = new QueueAccounting(queueLimit, _gatewayMetrics, _metrics.Workers, _metrics.BusyWorkers);
        var pythonPath = PythonPathFolders();
        var supervisor = new WorkerSupervisor(runtime, _options, pythonPath, appSpec, validate, asgi, accounting, _metrics, _pythonLogLevel, _loggers, _logger);

        // Mounting happens while the host is configured, before anything serves: waiting here is what lets a bad app
        // stop the startup with its own traceback.
        supervisor.StartAsync(_stopping.Token).GetAwaiter().GetResult();
        lock (_lock)
        {
            _supervisors.Add(supervisor);
        }

        return supervisor;
    }

    private List<string> PythonPathFolders() => _options.PythonPath.Select(p => Path.GetFullPath(p, _contentRoot)).ToList();

    // A source file changed (PythonOptions.Reload): every app's workers are replaced with the new code; code that does
    // not import leaves them serving, and the next change tries again.
    private async Task OnSourceChangedAsync(string path)
    {
        foreach (var supervisor in Supervisors)
        {
            _logger.SourceChanged(path, supervisor.AppSpec);
            try
            {
                await supervisor.ReloadAsync(_stopping.Token).ConfigureAwait(false);
            }
            catch (InvalidOperationException ex)
            {
                _logger.ReloadFailed(supervisor.AppSpec, ex.Message);
            }
            catch (OperationCanceledException)
            {
                return;
            }
        }
    }

    private WorkerRuntime EnsureStarted()
    {
        lock (_lock)
        {
            ObjectDisposedException.ThrowIf(_stop is not null, this);
            if (_runtime is not null)
            {
                return _runtime;
            }

            if (!OperatingSystem.IsLinux())
            {
                // SO_PEERCRED, /proc and the signals the workers take are Linux's.
                throw new PlatformNotSupportedException("Python worker processes (PythonOptions.Workers) need Linux; on other systems, set Workers to 0.");
            }

            var installation = PythonInstallation.Find(_options.Python, _contentRoot, requireLibrary: false);
            _runtime = new WorkerRuntime(installation, _logger);
            if (_options.Timeout is { } timeout)
            {
                _ = WatchAsync(timeout);
            }

            _logger.WorkersStarting(installation.Version, installation.Executable, _options.Workers, _options.Threads ?? 1);
            if (_options.Reload)
            {
                _watcher = new SourceWatcher(PythonPathFolders(), _options.ReloadIncludes, OnSourceChangedAsync, _logger);
            }

            return _runtime;
        }
    }

    private async Task WatchAsync(TimeSpan timeout)
    {
        var interval = TimeSpan.FromTicks(Math.Clamp(timeout.Ticks / 10, TimeSpan.FromMilliseconds(50).Ticks, TimeSpan.FromSeconds(1).Ticks));
        using var timer = new PeriodicTimer(interval);
        var handled = new HashSet<Worker>();
        try
        {
            while (await timer.WaitForNextTickAsync(_stopping.Token).ConfigureAwait(false))
            {
                foreach (var supervisor in Supervisors)
                {
                    supervisor.CutStuckCalls(timeout, handled);
                }

                handled.RemoveWhere(w => w.Exited.IsCompleted);
            }
        }
        catch (OperationCanceledException)
        {
        }
    }

    /// <inheritdoc/>
    public async Task ReloadAsync(CancellationToken cancellationToken = default)
    {
        foreach (var supervisor in Supervisors)
        {
            await supervisor.ReloadAsync(cancellationToken).ConfigureAwait(false);
        }
    }

    /// <inheritdoc/>
    public async Task AddWorkerAsync(CancellationToken cancellationToken = default)
    {
        foreach (var supervisor in Supervisors)
        {
            await supervisor.AddWorkerAsync(cancellationToken).ConfigureAwait(false);
        }
    }

    /// <inheritdoc/>
    public int RemoveWorker() => Supervisors.Count(s => s.RemoveWorker());

    public Task StartingAsync(CancellationToken cancellationToken) => Task.CompletedTask;

    public Task StartAsync(CancellationToken cancellationToken) => Task.CompletedTask;

    public Task StartedAsync(CancellationToken cancellationToken) => Task.CompletedTask;

    public Task StoppingAsync(CancellationToken cancellationToken) => Task.CompletedTask;

    public Task StopAsync(CancellationToken cancellationToken) => Task.CompletedTask;

    // After every StopAsync, the server's included: the requests in flight have had the host's shutdown timeout to
    // finish. Each worker gets GracefulTimeout to finish what it holds and run its atexit handlers.
    public Task StoppedAsync(CancellationToken cancellationToken) => StopWorkersAsync(_options.GracefulTimeout);

    // Once: a later call (the container's disposal after the host's stop) waits for the same stop.
    private Task StopWorkersAsync(TimeSpan grace)
    {
        lock (_lock)
        {
            return _stop ??= StopAllAsync([.. _supervisors], grace);
        }
    }

    private async Task StopAllAsync(List<WorkerSupervisor> supervisors, TimeSpan grace)
    {
        _watcher?.Dispose();
        await Task.WhenAll(supervisors.Select(s => s.StopAsync(grace))).ConfigureAwait(false);
        await _stopping.CancelAsync().ConfigureAwait(false);
        _runtime?.Dispose();
    }

    // A container disposed synchronously (a WebApplicationFactory's) asks for this one.
    public void Dispose() => DisposeAsync().AsTask().GetAwaiter().GetResult();

    public async ValueTask DisposeAsync()
    {
        // A host disposed without being stopped (a failed startup, a test) still ends its workers.
        await StopWorkersAsync(TimeSpan.Zero).ConfigureAwait(false);
        _gatewayMetrics.Dispose();
        _metrics.Dispose();
        _stopping.Dispose();
    }
}
