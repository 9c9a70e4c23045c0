using System.Diagnostics;
using System.Diagnostics.CodeAnalysis;
using System.Text.Json;
using Microsoft.Extensions.Logging;

namespace GatewayBridge.Python;

/// <summary>
/// The worker processes of one mounted app, after gunicorn's arbiter: it starts them, watches them and reaps them. A
/// worker that dies or hangs is replaced (after a growing delay if they keep dying); one that asks to go (its memory,
/// SIGTERM, its MaxRequests) or is reloaded is replaced by a new one, and leaves its pool only once the new one is ready
/// where that keeps the pool from running dry (MaxRequests, a reload). Its <see cref="WorkerPool"/> chooses the worker
/// for each request.
/// </summary>
[SuppressMessage("Design", "CA1001:Types that own disposable fields should be disposable", Justification = "The reload semaphore never allocates a wait handle: nothing to dispose.")]
internal sealed class WorkerSupervisor
{
    /// <summary>The requests an ASGI worker holds at most; more wait in the bridge's queue.</summary>
    public const int AsgiConcurrency = 1000;

    private static int s_lastId;

    private readonly WorkerRuntime _runtime;
    private readonly PythonOptions _options;
    private readonly IReadOnlyList<string> _pythonPath;
    private readonly WorkerSettings _settings;
    private readonly WorkerEvents _events;
    private readonly PythonWorkerMetrics _metrics;
    private readonly ILoggerFactory _loggers;
    private readonly ILogger _logger;
    private readonly Lock _lock = new();
    private readonly List<Worker> _workers = [];
    private readonly HashSet<Worker> _replacing = [];
    private readonly int _id = Interlocked.Increment(ref s_lastId);
    private readonly List<WorkerTemplate> _templates = [];
    private readonly Dictionary<string, int> _restarts = [];
    private readonly SemaphoreSlim _reloading = new(1, 1);
    private WorkerTemplate? _template;
    private int _size;
    private int _lastIndex;
    private int _failures;
    private bool _stopping;

    public WorkerSupervisor(
        WorkerRuntime runtime, PythonOptions options, IReadOnlyList<string> pythonPath, string appSpec, bool validate, bool asgi,
        QueueAccounting accounting, PythonWorkerMetrics metrics, int pythonLogLevel, ILoggerFactory loggers, ILogger logger)
    {
        _runtime = runtime;
        _options = options;
        _pythonPath = pythonPath;
        AppSpec = appSpec;
        IsAsgi = asgi;
        _metrics = metrics;
        _loggers = loggers;
        _logger = logger;

        // An ASGI worker's loop serves many requests at once; it is sent up to a thousand (uvicorn has no limit by
        // default), the least loaded worker first. A WSGI worker runs Threads at once, and is sent up to three more per
        // thread into its request queue while they are busy, so that it finds its next request waiting.
        var threads = asgi ? AsgiConcurrency : options.Threads ?? 1;
        Pool = new WorkerPool(threads, asgi ? threads : 4 * threads, accounting);

        // At least a minute to connect and load the app, or the call timeout if longer.
        var startTimeout = options.Timeout is { } timeout && timeout > TimeSpan.FromMinutes(1) ? timeout : TimeSpan.FromMinutes(1);
        _settings = new WorkerSettings(appSpec, files => Config(validate, threads, pythonLogLevel, files), startTimeout, options.GracefulTimeout, asgi);
        _events = new WorkerEvents(OnRetireAsked, worker => Pool.Release(worker), OnExited);
        _size = options.Workers;
    }

    public string AppSpec { get; }

    public bool IsAsgi { get; }

    /// <summary>The workers it keeps running: <c>Workers</c> of the options, give or take SIGTTIN and SIGTTOU.</summary>
    public int Size
    {
        get
        {
            lock (_lock)
            {
                return _size;
            }
        }
    }

    /// <summary>Its workers replaced so far, by reason (the status page's; the metric counts them too).</summary>
    public IReadOnlyDictionary<string, int> Restarts
    {
        get
        {
            lock (_lock)
            {
                return new Dictionary<string, int>(_restarts);
            }
        }
    }

    private void Restarted(RetireReason reason)
    {
        _metrics.Restarted(reason);
        lock (_lock)
        {
            _restarts[reason.Tag()] = _restarts.GetValueOrDefault(reason.Tag()) + 1;
        }
    }

    /// <summary>The template the workers are forked from (a preloaded app), or null.</summary>
    public WorkerTemplate? Template => _template;

    public WorkerPool Pool { get; }

    /// <summary>Every worker of the app: starting, serving, retiring or stopping.</summary>
    public IReadOnlyList<Worker> Workers
    {
        get
        {
            lock (_lock)
            {
                return [.. _workers];
            }
        }
    }

    /// <summary>Workers that are serving (ready, not retiring, not exited).</summary>
    public int LiveWorkers => Workers.Count(w => w.Life.State == WorkerState.Serving && !w.Exited.IsCompleted);

    /// <summary>Starts the app's workers; throws with the app's traceback if one cannot load it, and stops the others.</summary>
    public async Task StartAsync(CancellationToken cancellationToken)
    {
        if (_options.Preload)
        {
            try
            {
                _template = await StartTemplateAsync(cancellationToken).ConfigureAwait(false);
            }
            catch (WorkerStartException failure)
            {
                throw new InvalidOperationException(
                    $"The Python {(IsAsgi ? "ASGI" : "WSGI")} app '{AppSpec}' could not be imported by its template process (pid {failure.Pid}, {_runtime.Installation.Executable}): " +
                    $"{failure.Message}.{(failure.PythonTraceback is { Length: > 0 } tb ? "\n" + tb : "")}",
                    failure);
            }
        }

        var starting = Enumerable.Range(0, Size).Select(_ => StartWorkerAsync(cancellationToken)).ToList();
        try
        {
            foreach (var worker in await Task.WhenAll(starting).ConfigureAwait(false))
            {
                Pool.Add(worker);
            }
        }
        catch
        {
            await StopAsync(TimeSpan.Zero).ConfigureAwait(false);
            var failure = starting.Select(t => t.Exception?.InnerException).OfType<WorkerStartException>().FirstOrDefault();
            throw new InvalidOperationException(
                $"The Python {(IsAsgi ? "ASGI" : "WSGI")} app '{AppSpec}' could not be loaded in a worker process (pid {failure?.Pid}, {_runtime.Installation.Executable}): " +
                $"{failure?.Message}.{(failure?.PythonTraceback is { Length: > 0 } tb ? "\n" + tb : "")}",
                failure);
        }
    }

    // Starts a worker and waits until it is ready; whoever asked adds it to the pool (a replacement in the same step as
    // the worker it replaces leaves).
    private async Task<Worker> StartWorkerAsync(CancellationToken cancellationToken)
    {
        var limit = _options.MaxRequests > 0 ? _options.MaxRequests + Random.Shared.Next(_options.MaxRequestsJitter + 1) : 0;
        var worker = new Worker(_runtime, _settings, _events, $"{_id}-{Interlocked.Increment(ref _lastIndex)}", limit, _loggers, _logger, _template);
        lock (_lock)
        {
            _workers.Add(worker);
        }

        try
        {
            await worker.StartAsync(cancellationToken).ConfigureAwait(false);
        }
        catch
        {
            worker.Kill();
            lock (_lock)
            {
                _workers.Remove(worker);
            }

            throw;
        }

        lock (_lock)
        {
            if (_stopping)
            {
                _ = worker.StopAsync(TimeSpan.Zero);
            }
        }

        return worker;
    }

    private byte[] Config(bool validate, int threads, int logLevel, WorkerFiles files) =>
        JsonSerializer.SerializeToUtf8Bytes(new Dictionary<string, object?>
        {
            ["proof"] = _runtime.HostToken,
            ["app"] = AppSpec,
            ["interface"] = IsAsgi ? "asgi" : "wsgi",
            ["path"] = _pythonPath,
            ["threads"] = threads,
            ["validate"] = validate,
            ["max_memory"] = _options.MaxWorkerMemory,
            ["graceful_timeout"] = _options.GracefulTimeout.TotalSeconds,
            ["log_level"] = logLevel,
            ["traceback_file"] = files.Traceback,
            ["scoreboard"] = files.Scoreboard,
            ["request_limit"] = files.RequestLimit,
            ["post_fork"] = _options.PostFork,
            ["template"] = files.Template,
            ["reload"] = _options.Reload,
        });

    // Starts a template of the app (a preloaded app's workers are forked from it) and watches it: one that dies while
    // it is the current one is replaced at once, before a worker needs it.
    private async Task<WorkerTemplate> StartTemplateAsync(CancellationToken cancellationToken)
    {
        var template = new WorkerTemplate(_runtime, () => _settings.Config(new WorkerFiles("", "", 0, Template: true)), _settings.StartTimeout, _loggers, _logger);
        lock (_lock)
        {
            _templates.Add(template);
        }

        try
        {
            await template.StartAsync(cancellationToken).ConfigureAwait(false);
        }
        catch
        {
            template.Kill();
            lock (_lock)
            {
                _templates.Remove(template);
            }

            throw;
        }

        _logger.TemplateReady(AppSpec, template.Pid);
        _ = WatchTemplateAsync(template);
        return template;
    }

    private async Task WatchTemplateAsync(WorkerTemplate template)
    {
        var status = await template.Exited.ConfigureAwait(false);
        bool current;
        lock (_lock)
        {
            _templates.Remove(template);
            current = template == _template && !_stopping;
        }

        if (!current)
        {
            return;
        }

        _logger.TemplateExited(AppSpec, template.Pid, Worker.DescribeExit(status));
        while (true)
        {
            try
            {
                var fresh = await StartTemplateAsync(CancellationToken.None).ConfigureAwait(false);
                lock (_lock)
                {
                    if (_stopping)
                    {
                        _ = fresh.StopAsync(TimeSpan.Zero);
                        return;
                    }

                    _template = fresh;
                }

                return;
            }
            catch (Exception ex)
            {
                // Whatever the failure, the loop goes on: without a template no worker can be replaced.
                var failure = ex as WorkerStartException;
                _logger.TemplateStartFailed(AppSpec, failure?.Pid ?? 0, ex.Message, failure?.PythonTraceback ?? "");
                lock (_lock)
                {
                    _failures++;
                    if (_stopping)
                    {
                        return;
                    }
                }

                await Task.Delay(Backoff()).ConfigureAwait(false);
            }
        }
    }

    // A template that is no longer the current one (a reload replaced it) goes once its last worker has.
    private void StopIdleTemplates()
    {
        List<WorkerTemplate> idle;
        lock (_lock)
        {
            idle = [.. _templates.Where(t => t != _template && t.Children == 0)];
        }

        foreach (var template in idle)
        {
            _ = template.StopAsync(_options.GracefulTimeout);
        }
    }

    // The worker asks to go. One past MaxRequests serves on until its replacement is ready, so the pool never has fewer
    // workers than it should (a pool of one would answer nothing meanwhile); one past its memory, or told to stop
    // (SIGTERM), takes nothing new from now on.
    private void OnRetireAsked(Worker worker, RetireReason reason)
    {
        bool first;
        lock (_lock)
        {
            if (_stopping)
            {
                return;
            }

            first = _replacing.Add(worker);
        }

        if (reason != RetireReason.MaxRequests && Pool.Remove(worker))
        {
            worker.Retire(reason);
        }

        if (first)
        {
            _logger.WorkerRetiring(AppSpec, worker.Pid, reason.Tag(), worker.Served);
            Restarted(reason);
            _ = ReplaceAsync(TimeSpan.Zero, reason == RetireReason.MaxRequests ? worker : null, reason);
        }
    }

    // The process ended: what it held has failed already. It is replaced unless a replacement is on its way already (it
    // was retiring, or serving on until its replacement is ready) or the host is stopping; one that never finished
    // starting is its starter's to report.
    private void OnExited(Worker worker, WorkerExit exit)
    {
        bool replace, unexpected;
        lock (_lock)
        {
            _workers.Remove(worker);
            var replacementComing = _replacing.Remove(worker);
            if (exit.Was == WorkerState.Starting)
            {
                return;
            }

            unexpected = exit.Reason is null && exit.Was != WorkerState.Stopping;
            replace = !_stopping && !replacementComing && (unexpected || exit.Reason == RetireReason.Timeout);
            if (unexpected)
            {
                _failures++;
            }
        }

        Pool.Remove(worker);
        if (unexpected)
        {
            _logger.WorkerExited(AppSpec, worker.Pid, Worker.DescribeExit(exit.Status), exit.Held);
        }

        if (replace)
        {
            Restarted(unexpected ? RetireReason.Exited : RetireReason.Timeout);
            _ = ReplaceAsync(Backoff(), null, null);
        }

        StopIdleTemplates();
    }

    // A worker that keeps dying (a crash at every request, an import that only fails later) is restarted with a growing
    // delay, up to 30 s, rather than in a tight loop.
    private TimeSpan Backoff()
    {
        lock (_lock)
        {
            return _failures <= 1 ? TimeSpan.Zero : TimeSpan.FromMilliseconds(Math.Min(30_000, 100 * (1 << Math.Min(_failures, 9))));
        }
    }

    // Starts a new worker; <paramref name="replacing"/>, still serving, leaves the pool once the new one is in it.
    private async Task ReplaceAsync(TimeSpan delay, Worker? replacing, RetireReason? reason)
    {
        if (delay > TimeSpan.Zero)
        {
            _logger.WorkerRestartDelayed(AppSpec, delay.TotalSeconds);
            await Task.Delay(delay).ConfigureAwait(false);
        }

        lock (_lock)
        {
            if (_stopping)
            {
                return;
            }
        }

        try
        {
            var worker = await StartWorkerAsync(CancellationToken.None).ConfigureAwait(false);
            _ = ResetFailuresAsync(worker);
            Pool.Add(worker);
            if (replacing is not null && Pool.Remove(replacing))
            {
                replacing.Retire(reason!.Value);
            }
        }
        catch (Exception ex)
        {
            var start = ex as WorkerStartException;
            _logger.WorkerStartFailed(AppSpec, start?.Pid ?? 0, ex.Message, start?.PythonTraceback ?? "");
            lock (_lock)
            {
                _failures++;
                if (_stopping)
                {
                    return;
                }
            }

            _ = ReplaceAsync(Backoff(), replacing, reason);
        }
    }

    // A worker that stays up for 10 s ends a streak of failures.
    private async Task ResetFailuresAsync(Worker worker)
    {
        if (await Task.WhenAny(worker.Exited, Task.Delay(TimeSpan.FromSeconds(10))).ConfigureAwait(false) != worker.Exited)
        {
            lock (_lock)
            {
                _failures = 0;
            }
        }
    }

    /// <summary>
    /// Replaces every serving worker with a freshly started one, one at a time: each new worker loads the app's code
    /// anew, and the old one leaves the pool only once the new one is in it. A new worker that cannot load the app
    /// leaves the old ones serving, and the failure is thrown.
    /// </summary>
    public async Task ReloadAsync(CancellationToken cancellationToken)
    {
        // One reload at a time (a SIGHUP and a saved file may come together): the newest template is the one that stays.
        await _reloading.WaitAsync(cancellationToken).ConfigureAwait(false);
        try
        {
            await ReloadOnceAsync(cancellationToken).ConfigureAwait(false);
        }
        finally
        {
            _reloading.Release();
        }
    }

    private async Task ReloadOnceAsync(CancellationToken cancellationToken)
    {
        if (_options.Preload)
        {
            // The new code is imported by a new template first: one that does not import leaves everything as it was.
            WorkerTemplate fresh;
            try
            {
                fresh = await StartTemplateAsync(cancellationToken).ConfigureAwait(false);
            }
            catch (WorkerStartException start)
            {
                throw new InvalidOperationException(
                    $"Reloading '{AppSpec}': its new template {start.Message}; the running workers go on serving.{(start.PythonTraceback.Length > 0 ? "\n" + start.PythonTraceback : "")}", start);
            }

            lock (_lock)
            {
                _template = fresh;
            }
        }

        foreach (var old in Workers.Where(w => w.Life.State == WorkerState.Serving))
        {
            lock (_lock)
            {
                if (old.Life.State != WorkerState.Serving || !_replacing.Add(old))
                {
                    // Being replaced or removed already.
                    continue;
                }
            }

            Worker fresh;
            try
            {
                fresh = await StartWorkerAsync(cancellationToken).ConfigureAwait(false);
            }
            catch (Exception ex)
            {
                // The old worker serves on, and is replaced as any other when its time comes.
                lock (_lock)
                {
                    _replacing.Remove(old);
                }

                if (ex is WorkerStartException start)
                {
                    throw new InvalidOperationException(
                        $"Reloading '{AppSpec}': {start.Message}; the running workers go on serving.{(start.PythonTraceback.Length > 0 ? "\n" + start.PythonTraceback : "")}", start);
                }

                throw;
            }

            Pool.Add(fresh);
            if (Pool.Remove(old))
            {
                Restarted(RetireReason.Reload);
                _logger.WorkerRetiring(AppSpec, old.Pid, RetireReason.Reload.Tag(), old.Served);
                old.Retire(RetireReason.Reload);
            }
        }
    }

    /// <summary>Cuts every call that has run app code for longer than the timeout, once per worker.</summary>
    public void CutStuckCalls(TimeSpan timeout, HashSet<Worker> handled)
    {
        var now = Stopwatch.GetTimestamp();
        var limit = (long)(timeout.TotalSeconds * Stopwatch.Frequency);
        foreach (var worker in Workers)
        {
            var started = worker.LastStarted();
            if (worker.Calls.FirstOrDefault(c => c.IsStuck(now, limit, c.Id <= started)) is { } stuck && handled.Add(worker))
            {
                // Chosen for nothing more from now on: it is killed once its tracebacks are logged.
                Pool.Remove(worker);
                _ = worker.TimeOutAsync(stuck, timeout);
            }
        }
    }

    /// <summary>Stops choosing workers and stops every worker, each within <paramref name="grace"/>.</summary>
    public async Task StopAsync(TimeSpan grace)
    {
        List<Worker> workers;
        lock (_lock)
        {
            _stopping = true;
            workers = [.. _workers];
        }

        Pool.Stop();
        await Task.WhenAll(workers.Select(w => w.StopAsync(grace))).ConfigureAwait(false);
        List<WorkerTemplate> templates;
        lock (_lock)
        {
            templates = [.. _templates];
        }

        await Task.WhenAll(templates.Select(t => t.StopAsync(TimeSpan.FromSeconds(5)))).ConfigureAwait(false);
    }

    /// <summary>One more worker, kept from now on (SIGTTIN).</summary>
    public async Task AddWorkerAsync(CancellationToken cancellationToken)
    {
        lock (_lock)
        {
            ObjectDisposedException.ThrowIf(_stopping, this);
            _size++;
        }

        try
        {
            Pool.Add(await StartWorkerAsync(cancellationToken).ConfigureAwait(false));
        }
        catch
        {
            lock (_lock)
            {
                _size--;
            }

            throw;
        }
    }

    /// <summary>One worker fewer, never below one (SIGTTOU): the newest stops taking requests, finishes what it holds and exits.</summary>
    public bool RemoveWorker()
    {
        Worker? leaving;
        lock (_lock)
        {
            leaving = _size > 1 && !_stopping ? _workers.LastOrDefault(w => w.Life.State == WorkerState.Serving && !_replacing.Contains(w)) : null;
            if (leaving is null)
            {
                return false;
            }

            _size--;

            // Taken out of a reload's reach: a reload that came to it next would start it a replacement.
            _replacing.Add(leaving);
        }

        if (Pool.Remove(leaving))
        {
            _logger.WorkerRetiring(AppSpec, leaving.Pid, RetireReason.Removed.Tag(), leaving.Served);
            leaving.Retire(RetireReason.Removed);
        }

        return true;
    }
}
