using System.Diagnostics;
using System.Text.Json;
using Microsoft.Extensions.Logging;

namespace GatewayBridge.Python;

/// <summary>
/// The worker processes of one mounted app, after gunicorn's arbiter: requests wait in the bridge's queue until a
/// worker has a free thread; a worker that dies, hangs, leaks or has served its <c>MaxRequests</c> is replaced, the
/// replacement started before the worker it replaces stops taking requests, so none is dropped.
/// </summary>
/// <remarks>
/// More than 400 lines on purpose: dispatch, sending ahead, retiring, replacing and reloading all change the same
/// workers and queue under one lock, and their invariant (no request dropped, none sent to a worker that stops) is
/// read in one place.
/// </remarks>
internal sealed class WorkerPool
{
    /// <summary>The requests an ASGI worker holds at most; more wait in the bridge's queue.</summary>
    public const int AsgiConcurrency = 1000;

    private static readonly long AheadWindow = Stopwatch.Frequency / 10;
    private static int s_lastId;

    private readonly PythonWsgiOptions _options;
    private readonly ILoggerFactory _loggers;
    private readonly ILogger _logger;
    private readonly QueueAccounting _accounting;
    private readonly PythonWorkerMetrics _metrics;
    private readonly bool _validate;
    private readonly bool _asgi;
    private readonly Lock _lock = new();
    private readonly List<WorkerProcess> _workers = [];
    private readonly LinkedList<Waiter> _waiters = [];
    private readonly int _threads;
    private readonly int _depth;
    private int _lastIndex;
    private int _failures;
    private bool _stopping;

    public WorkerPool(WorkerSupervisor supervisor, string appSpec, bool validate, int queueLimit, bool asgi = false)
    {
        Supervisor = supervisor;
        AppSpec = appSpec;
        _validate = validate;
        _asgi = asgi;
        _options = supervisor.Options;

        // An ASGI worker's loop serves many requests at once; it is sent up to a thousand (uvicorn has no limit by
        // default), the least loaded worker first.
        _threads = asgi ? AsgiConcurrency : _options.Threads ?? 1;

        // While all its threads are busy, a worker is sent up to three more requests per thread, so that it finds its
        // next request waiting and takes several per read (python-load.sh: a bare hello at 1 request ahead per thread
        // ran at 13.5k req/s, at 3 ahead 19.1k, at 7 ahead 17.9k). Only to a worker that finished a request in the last
        // 100 ms: a slow call does not gather more requests behind it. One sent ahead that has not started when its
        // worker dies goes to another worker.
        _depth = asgi ? _threads : 4 * _threads;
        _loggers = supervisor.Loggers;
        _logger = supervisor.Logger;
        _metrics = supervisor.Metrics;
        _accounting = new QueueAccounting(queueLimit, supervisor.GatewayMetrics);
    }

    public WorkerSupervisor Supervisor { get; }

    /// <summary>Names the pool's files in the runtime folder.</summary>
    public int Id { get; } = Interlocked.Increment(ref s_lastId);

    public string AppSpec { get; }

    public int Size => _options.Workers;

    /// <summary>How long a worker may take to connect and load the app: at least a minute, or the call timeout if longer.</summary>
    public TimeSpan StartTimeout => _options.Timeout is { } timeout && timeout > TimeSpan.FromMinutes(1) ? timeout : TimeSpan.FromMinutes(1);

    public bool HasRoom => _accounting.HasRoom;

    /// <summary>Every worker of the pool: starting, serving or retiring.</summary>
    public IReadOnlyList<WorkerProcess> Workers
    {
        get
        {
            lock (_lock)
            {
                return [.. _workers];
            }
        }
    }

    /// <summary>Workers that are serving (started, not retiring, not exited).</summary>
    public int LiveWorkers
    {
        get
        {
            lock (_lock)
            {
                return _workers.Count(w => w.IsServing && !w.IsDead);
            }
        }
    }

    /// <summary>Starts the app's workers; throws with the app's traceback if one cannot load it, and stops the others.</summary>
    public async Task StartAsync(CancellationToken cancellationToken)
    {
        var starting = Enumerable.Range(0, Size).Select(_ => StartWorkerAsync(cancellationToken)).ToList();
        try
        {
            await Task.WhenAll(starting).ConfigureAwait(false);
        }
        catch
        {
            await StopAsync(TimeSpan.Zero).ConfigureAwait(false);
            var failure = starting.Select(t => t.Exception?.InnerException).OfType<WorkerStartException>().FirstOrDefault();
            throw new InvalidOperationException(
                $"The Python {(_asgi ? "ASGI" : "WSGI")} app '{AppSpec}' could not be loaded in a worker process (pid {failure?.Pid}, {Supervisor.Installation.Executable}): " +
                $"{failure?.Message}.{(failure?.PythonTraceback is { Length: > 0 } tb ? "\n" + tb : "")}",
                failure);
        }
    }

    private async Task<WorkerProcess> StartWorkerAsync(CancellationToken cancellationToken)
    {
        var limit = _options.MaxRequests > 0 ? _options.MaxRequests + Random.Shared.Next(_options.MaxRequestsJitter + 1) : 0;
        var worker = new WorkerProcess(this, Interlocked.Increment(ref _lastIndex), _loggers, _logger) { RequestLimit = limit };
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

        List<Waiter>? next;
        lock (_lock)
        {
            if (_stopping)
            {
                _ = worker.StopAsync(TimeSpan.Zero);
                return worker;
            }

            worker.IsServing = true;
            _accounting.WorkerStarted();
            next = HandOut(worker);
        }

        Send(worker, next);
        return worker;
    }

    /// <summary>The CONFIG frame a new worker gets: what to load and how to run it.</summary>
    public byte[] ConfigFrame(string tracebackFile, string scoreboard)
    {
        var config = JsonSerializer.SerializeToUtf8Bytes(new Dictionary<string, object?>
        {
            ["proof"] = Supervisor.HostToken,
            ["app"] = AppSpec,
            ["interface"] = _asgi ? "asgi" : "wsgi",
            ["path"] = Supervisor.PythonPath,
            ["threads"] = _threads,
            ["validate"] = _validate,
            ["max_memory"] = _options.MaxWorkerMemory,
            ["graceful_timeout"] = _options.GracefulTimeout.TotalSeconds,
            ["log_level"] = Supervisor.PythonLogLevel,
            ["traceback_file"] = tracebackFile,
            ["scoreboard"] = scoreboard,
        });
        return WorkerFrames.Build(WorkerFrames.Config, 0, config);
    }

    /// <summary>
    /// Sends the request to a worker with a free thread (or with room for one more ahead), now or, after waiting in the
    /// bridge's queue, as soon as one has: the worker that frees a thread sends the next waiting request itself, on its
    /// reader's thread, so the queue costs no extra thread hop.
    /// </summary>
    public ValueTask<WorkerCall> DispatchAsync(EnvironDictionary environ, CancellationToken cancellationToken) =>
        DispatchAsync(worker => worker.Dispatch(environ), cancellationToken);

    /// <summary>As the WSGI overload, for any kind of call: <paramref name="dispatch"/> sends it to the worker given.</summary>
    public ValueTask<T> DispatchAsync<T>(Func<WorkerProcess, T> dispatch, CancellationToken cancellationToken)
        where T : class, IWorkerCall
    {
        Waiter<T> waiter;
        WorkerProcess? free;
        lock (_lock)
        {
            ObjectDisposedException.ThrowIf(_stopping, this);
            free = FreeWorker(_threads) ?? FreeWorker(_depth, Stopwatch.GetTimestamp() - AheadWindow);
            if (free is not null)
            {
                Take(free);
            }
            else
            {
                waiter = new Waiter<T>(dispatch, _accounting.Enqueue());
                waiter.Node = _waiters.AddLast(waiter);
                return new ValueTask<T>(WaitAsync(waiter, cancellationToken));
            }
        }

        return new ValueTask<T>(dispatch(free));
    }

    private async Task<T> WaitAsync<T>(Waiter<T> waiter, CancellationToken cancellationToken)
        where T : class, IWorkerCall
    {
        using (cancellationToken.UnsafeRegister(static (state, token) =>
        {
            var (pool, waiter) = ((WorkerPool, Waiter))state!;
            pool.Abandon(waiter, token);
        }, (this, (Waiter)waiter)))
        {
            return await waiter.Completion.Task.ConfigureAwait(false);
        }
    }

    // A request whose client left while it waited never reaches a worker.
    private void Abandon(Waiter waiter, CancellationToken token)
    {
        lock (_lock)
        {
            if (waiter.Node?.List is null)
            {
                return;
            }

            _waiters.Remove(waiter.Node);
            _accounting.Leave();
        }

        waiter.Cancel(token);
    }

    // Under the lock: a serving worker with fewer than `limit` requests, the least loaded first; when sending ahead,
    // only one that made progress since `progressSince` (a timestamp).
    private WorkerProcess? FreeWorker(int limit, long progressSince = long.MinValue)
    {
        WorkerProcess? best = null;
        foreach (var worker in _workers)
        {
            if (worker.IsServing && !worker.IsDead && worker.InFlight < limit && worker.Progress >= progressSince && (best is null || worker.InFlight < best.InFlight))
            {
                best = worker;
            }
        }

        return best;
    }

    // Under the lock: the worker takes a request; a worker with one or more is busy.
    private void Take(WorkerProcess worker)
    {
        if (worker.InFlight++ == 0)
        {
            worker.Progress = Stopwatch.GetTimestamp();
            _accounting.BusyStarted();
        }
    }

    /// <summary>The worker finished a request: its thread goes to the next request waiting, or it retires.</summary>
    public void Release(WorkerProcess worker)
    {
        List<Waiter>? next;
        lock (_lock)
        {
            if (--worker.InFlight == 0)
            {
                _accounting.BusyEnded();
            }

            worker.Served++;
            worker.Progress = Stopwatch.GetTimestamp();
            if (worker.RequestLimit > 0 && worker.Served >= worker.RequestLimit && worker.RetireReason is null)
            {
                RetireLocked(worker, "max_requests");
            }

            next = HandOut(worker);
        }

        Send(worker, next);
    }

    // Under the lock: takes waiting requests for the worker's free threads (sent by Send once the lock is released),
    // or stops it once a retired worker is idle.
    private List<Waiter>? HandOut(WorkerProcess worker)
    {
        List<Waiter>? next = null;
        while (worker.IsServing && worker.InFlight < _depth && _waiters.First is { } first)
        {
            _waiters.RemoveFirst();
            _accounting.Dequeue(first.Value.Enqueued);
            Take(worker);
            (next ??= []).Add(first.Value);
        }

        // A WSGI worker stops once idle (each call is bounded by Timeout). An ASGI worker may hold a WebSocket or a
        // stream for hours: it is told to stop at once, and gets GracefulTimeout from now to finish what it holds.
        if (!worker.IsServing && worker.RetireReason is not null && (worker.InFlight == 0 || _asgi) && !worker.IsStopping && !worker.Exited.IsCompleted)
        {
            _ = worker.StopAsync(_options.GracefulTimeout);
        }

        return next;
    }

    private static void Send(WorkerProcess worker, List<Waiter>? waiters)
    {
        foreach (var waiter in waiters ?? [])
        {
            waiter.Send(worker);
        }
    }

    /// <summary>Replaces the worker: a new one is started, and this one stops once its requests are done.</summary>
    public void Retire(WorkerProcess worker, string reason)
    {
        lock (_lock)
        {
            if (worker.RetireReason is null)
            {
                RetireLocked(worker, reason);
                _ = HandOut(worker);
            }
        }
    }

    // A worker past MaxRequests goes on serving until its replacement is ready, so the pool never has fewer workers
    // than it should (one worker's pool would answer nothing meanwhile); one over its memory limit, or told to stop
    // (SIGTERM), takes nothing new from now on.
    private void RetireLocked(WorkerProcess worker, string reason)
    {
        worker.RetireReason = reason;
        var keepServing = reason == "max_requests" && !_stopping;
        if (!keepServing)
        {
            StopServingLocked(worker);
        }

        _logger.WorkerRetiring(AppSpec, worker.Pid, reason, worker.Served);
        _metrics.Restarted(reason);
        if (!_stopping)
        {
            _ = ReplaceAsync(TimeSpan.Zero, keepServing ? worker : null);
        }
    }

    // Under the lock.
    private void StopServingLocked(WorkerProcess worker)
    {
        if (worker.IsServing)
        {
            worker.IsServing = false;
            _accounting.WorkerStopped();
        }
    }

    public void NoteTimeout(WorkerProcess worker)
    {
        lock (_lock)
        {
            worker.RetireReason ??= "timeout";
        }
    }

    /// <summary>The process ended: what it held has failed already; it is replaced unless it was retired or the pool is stopping.</summary>
    public void OnExited(WorkerProcess worker, int status)
    {
        bool replace;
        lock (_lock)
        {
            if (!_workers.Remove(worker))
            {
                return;
            }

            if (worker.IsServing)
            {
                worker.IsServing = false;
                _accounting.WorkerStopped();
            }

            if (worker.InFlight > 0)
            {
                _accounting.BusyEnded();
            }

            var unexpected = worker.RetireReason is null;
            replace = !_stopping && (unexpected || worker.RetireReason == "timeout");
            if (unexpected)
            {
                _failures++;
                _logger.WorkerExited(AppSpec, worker.Pid, WorkerProcess.DescribeExit(status), worker.InFlight);
            }

            if (replace)
            {
                _metrics.Restarted(unexpected ? "exited" : "timeout");
            }
        }

        if (replace)
        {
            // A worker that keeps dying (a crash at every request, an import that only fails later) is restarted with
            // a growing delay, up to 30 s, rather than in a tight loop.
            var delay = _failures <= 1 ? TimeSpan.Zero : TimeSpan.FromMilliseconds(Math.Min(30_000, 100 * (1 << Math.Min(_failures, 9))));
            _ = ReplaceAsync(delay);
        }
    }

    // Starts a new worker; <paramref name="replacing"/>, still serving, stops taking requests once the new one is ready.
    private async Task ReplaceAsync(TimeSpan delay, WorkerProcess? replacing = null)
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
            if (replacing is not null)
            {
                lock (_lock)
                {
                    StopServingLocked(replacing);
                    _ = HandOut(replacing);
                }
            }
        }
        catch (Exception ex)
        {
            if (ex is WorkerStartException start)
            {
                _logger.WorkerStartFailed(AppSpec, start.Pid, start.Message, start.PythonTraceback);
            }
            else
            {
                _logger.WorkerStartFailed(AppSpec, 0, ex.Message, "");
            }

            lock (_lock)
            {
                _failures++;
                if (_stopping)
                {
                    return;
                }
            }

            _ = ReplaceAsync(TimeSpan.FromMilliseconds(Math.Min(30_000, 100 * (1 << Math.Min(_failures, 9)))), replacing);
        }
    }

    // A worker that stays up for 10 s ends a streak of failures.
    private async Task ResetFailuresAsync(WorkerProcess worker)
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
    /// Replaces every worker with a freshly started one, one at a time: each new worker loads the app's code anew, and
    /// the old one stops taking requests only once it is ready. A new worker that cannot load the app leaves the old
    /// ones serving, and the failure is thrown.
    /// </summary>
    public async Task ReloadAsync(CancellationToken cancellationToken)
    {
        List<WorkerProcess> old;
        lock (_lock)
        {
            old = _workers.Where(w => w.IsServing).ToList();
        }

        foreach (var worker in old)
        {
            lock (_lock)
            {
                if (!worker.IsServing || worker.RetireReason is not null)
                {
                    // Retired or gone since the reload began: already replaced.
                    continue;
                }
            }

            try
            {
                await StartWorkerAsync(cancellationToken).ConfigureAwait(false);
            }
            catch (WorkerStartException ex)
            {
                throw new InvalidOperationException(
                    $"Reloading '{AppSpec}': {ex.Message}; the running workers go on serving.{(ex.PythonTraceback.Length > 0 ? "\n" + ex.PythonTraceback : "")}", ex);
            }

            lock (_lock)
            {
                if (worker.RetireReason is null)
                {
                    worker.RetireReason = "reload";
                    worker.IsServing = false;
                    _accounting.WorkerStopped();
                    _metrics.Restarted("reload");
                    _logger.WorkerRetiring(AppSpec, worker.Pid, "reload", worker.Served);
                    _ = HandOut(worker);
                }
            }
        }
    }

    /// <summary>Every call that has run app code for longer than the timeout, with its worker.</summary>
    public List<(WorkerProcess Worker, IWorkerCall Call)> StuckCalls(TimeSpan timeout)
    {
        var now = Stopwatch.GetTimestamp();
        var limit = (long)(timeout.TotalSeconds * Stopwatch.Frequency);
        List<WorkerProcess> workers;
        lock (_lock)
        {
            workers = [.. _workers];
        }

        var stuck = new List<(WorkerProcess, IWorkerCall)>();
        foreach (var worker in workers)
        {
            var started = worker.LastStarted();
            stuck.AddRange(worker.Calls.Where(c => c.IsStuck(now, limit, c.Id <= started)).Select(c => (worker, c)));
        }

        return stuck;
    }

    /// <summary>Stops taking requests and stops every worker, each within <paramref name="grace"/>.</summary>
    public async Task StopAsync(TimeSpan grace)
    {
        List<WorkerProcess> workers;
        lock (_lock)
        {
            _stopping = true;
            workers = [.. _workers];
            foreach (var worker in workers.Where(w => w.IsServing))
            {
                worker.IsServing = false;
                _accounting.WorkerStopped();
            }

            foreach (var waiter in _waiters)
            {
                _accounting.Leave();
                waiter.Fail(new ObjectDisposedException(nameof(WorkerPool), "The host is stopping; its Python workers take no more requests."));
            }

            _waiters.Clear();
        }

        await Task.WhenAll(workers.Select(w => w.StopAsync(grace))).ConfigureAwait(false);
    }

    private abstract class Waiter(long enqueued)
    {
        public long Enqueued { get; } = enqueued;

        public LinkedListNode<Waiter>? Node { get; set; }

        /// <summary>Sends the waiting request to <paramref name="worker"/>, on the thread that freed it.</summary>
        public abstract void Send(WorkerProcess worker);

        public abstract void Cancel(CancellationToken token);

        public abstract void Fail(Exception error);
    }

    private sealed class Waiter<T>(Func<WorkerProcess, T> dispatch, long enqueued) : Waiter(enqueued)
        where T : class, IWorkerCall
    {
        public TaskCompletionSource<T> Completion { get; } = new(TaskCreationOptions.RunContinuationsAsynchronously);

        public override void Send(WorkerProcess worker)
        {
            var call = dispatch(worker);
            if (!Completion.TrySetResult(call))
            {
                // The client left just now: the worker is told, and closes the app at its first step.
                worker.Send(WorkerFrames.Build(WorkerFrames.Cancel, call.Id));
            }
        }

        public override void Cancel(CancellationToken token) => Completion.TrySetCanceled(token);

        public override void Fail(Exception error) => Completion.TrySetException(error);
    }
}
