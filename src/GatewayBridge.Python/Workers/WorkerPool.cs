using System.Diagnostics;

namespace GatewayBridge.Python;

/// <summary>
/// Chooses the worker process for each request of one app, and nothing else: requests wait in the bridge's queue until
/// a serving worker has a free thread, the least loaded first. Its supervisor adds a worker once it is ready and
/// removes it when it retires or dies; a request a removed worker never started comes back here.
/// </summary>
internal sealed class WorkerPool
{
    private static readonly long AheadWindow = Stopwatch.Frequency / 10;

    private readonly Lock _lock = new();
    private readonly Dictionary<Worker, Load> _serving = [];
    private readonly LinkedList<Waiter> _waiters = [];
    private readonly QueueAccounting _accounting;
    private readonly int _threads;
    private readonly int _depth;
    private bool _stopped;

    /// <param name="threads">The requests a worker runs at once.</param>
    /// <param name="depth">The requests a worker may hold at once, those sent ahead of a free thread included.</param>
    /// <param name="accounting">The bridge's queue and its meters.</param>
    public WorkerPool(int threads, int depth, QueueAccounting accounting)
    {
        _threads = threads;
        _depth = depth;
        _accounting = accounting;
    }

    public bool HasRoom => _accounting.HasRoom;

    /// <summary>The workers it may choose.</summary>
    public int Serving
    {
        get
        {
            lock (_lock)
            {
                return _serving.Count(w => !w.Key.Exited.IsCompleted);
            }
        }
    }

    /// <summary>A ready worker: from now on it is chosen, and takes the requests waiting for one.</summary>
    public void Add(Worker worker)
    {
        List<Waiter>? next;
        lock (_lock)
        {
            if (_stopped || !_serving.TryAdd(worker, new Load()))
            {
                return;
            }

            _accounting.RunnerStarted();
            next = HandOut(worker);
        }

        Send(worker, next);
    }

    /// <summary>The worker is never chosen again (it retires, stops or died); false if it was not being chosen.</summary>
    public bool Remove(Worker worker)
    {
        lock (_lock)
        {
            if (!_serving.Remove(worker, out var load))
            {
                return false;
            }

            _accounting.RunnerStopped();
            if (load.InFlight > 0)
            {
                _accounting.BusyEnded();
            }

            return true;
        }
    }

    /// <summary>
    /// Opens the request on a worker with a free thread (or with room for one more ahead), now or, after waiting in the
    /// bridge's queue, as soon as one has: the worker that frees a thread opens the next waiting request itself, on its
    /// reader's thread, so the queue costs no extra thread hop.
    /// </summary>
    public ValueTask<T> DispatchAsync<T>(Func<Worker, T> open, CancellationToken cancellationToken)
        where T : FramedCall
    {
        Waiter<T> waiter;
        Worker? free;
        lock (_lock)
        {
            ObjectDisposedException.ThrowIf(_stopped, this);

            // While all its threads are busy, a worker is sent up to `depth` requests, so that it finds its next request
            // waiting and takes several per read (python-load.sh: a bare hello at 1 request ahead per thread ran at 13.5k
            // req/s, at 3 ahead 19.1k, at 7 ahead 17.9k). Only to a worker that made progress in the last 100 ms: a slow
            // call does not gather more requests behind it.
            free = FreeWorker(_threads) ?? FreeWorker(_depth, Stopwatch.GetTimestamp() - AheadWindow);
            if (free is not null)
            {
                Take(free);
            }
            else
            {
                waiter = new Waiter<T>(open, _accounting.Enqueue());
                waiter.Node = _waiters.AddLast(waiter);
                return new ValueTask<T>(WaitAsync(waiter, cancellationToken));
            }
        }

        try
        {
            return new ValueTask<T>(open(free));
        }
        catch
        {
            // The request never reached it (its first frame could not be built): the worker's thread is free again.
            Release(free, served: false);
            throw;
        }
    }

    private async Task<T> WaitAsync<T>(Waiter<T> waiter, CancellationToken cancellationToken)
        where T : FramedCall
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

    // Under the lock: a worker with fewer than `limit` requests, the least loaded first; when sending ahead, only one that
    // made progress since `progressSince` (a timestamp).
    private Worker? FreeWorker(int limit, long progressSince = long.MinValue)
    {
        Worker? best = null;
        var bestLoad = 0;
        foreach (var (worker, load) in _serving)
        {
            if (!worker.Exited.IsCompleted && load.InFlight < limit && load.Progress >= progressSince && (best is null || load.InFlight < bestLoad))
            {
                best = worker;
                bestLoad = load.InFlight;
            }
        }

        return best;
    }

    // Under the lock: the worker takes a request; a worker with one or more is busy.
    private void Take(Worker worker)
    {
        var load = _serving[worker];
        if (load.InFlight++ == 0)
        {
            load.Progress = Stopwatch.GetTimestamp();
            _accounting.BusyStarted();
        }
    }

    /// <summary>A call on the worker ended: its thread goes to the next request waiting.</summary>
    public void Release(Worker worker) => Release(worker, served: true);

    private void Release(Worker worker, bool served)
    {
        List<Waiter>? next;
        lock (_lock)
        {
            if (!_serving.TryGetValue(worker, out var load))
            {
                return;
            }

            if (--load.InFlight == 0)
            {
                _accounting.BusyEnded();
            }

            if (served)
            {
                load.Progress = Stopwatch.GetTimestamp();
            }

            next = HandOut(worker);
        }

        Send(worker, next);
    }

    // Under the lock: takes waiting requests for the worker's free threads (opened by Send once the lock is released).
    private List<Waiter>? HandOut(Worker worker)
    {
        List<Waiter>? next = null;
        while (_serving[worker].InFlight < _depth && _waiters.First is { } first)
        {
            _waiters.RemoveFirst();
            _accounting.Dequeue(first.Value.Enqueued);
            Take(worker);
            (next ??= []).Add(first.Value);
        }

        return next;
    }

    // On the thread that freed the worker (often its connection's reader): what one request's open throws is that
    // request's, and must not end the reader or leave the others waiting.
    private void Send(Worker worker, List<Waiter>? waiters)
    {
        foreach (var waiter in waiters ?? [])
        {
            if (!waiter.Send(worker))
            {
                Release(worker, served: false);
            }
        }
    }

    /// <summary>Chooses no worker any more, and fails the requests waiting for one: the host is stopping.</summary>
    public void Stop()
    {
        lock (_lock)
        {
            _stopped = true;
            foreach (var load in _serving.Values)
            {
                _accounting.RunnerStopped();
                if (load.InFlight > 0)
                {
                    _accounting.BusyEnded();
                }
            }

            _serving.Clear();

            foreach (var waiter in _waiters)
            {
                _accounting.Leave();
                waiter.Fail(new ObjectDisposedException(nameof(WorkerPool), "The host is stopping; its Python workers take no more requests."));
            }

            _waiters.Clear();
        }
    }

    private sealed class Load
    {
        /// <summary>Requests the worker has been given and not finished.</summary>
        public int InFlight;

        /// <summary>When it last took its first request or finished one (a timestamp).</summary>
        public long Progress;
    }

    private abstract class Waiter(long enqueued)
    {
        public long Enqueued { get; } = enqueued;

        public LinkedListNode<Waiter>? Node { get; set; }

        /// <summary>Opens the waiting request on <paramref name="worker"/>, on the thread that freed it; false if it could not be opened.</summary>
        public abstract bool Send(Worker worker);

        public abstract void Cancel(CancellationToken token);

        public abstract void Fail(Exception error);
    }

    private sealed class Waiter<T>(Func<Worker, T> open, long enqueued) : Waiter(enqueued)
        where T : FramedCall
    {
        // The request goes on, inline, on the thread that freed the worker (usually its connection's reader, which holds
        // no lock then): no thread-pool hop for a request that waited.
        public TaskCompletionSource<T> Completion { get; } = new();

        public override bool Send(Worker worker)
        {
            T call;
            try
            {
                call = open(worker);
            }
            catch (Exception ex)
            {
                Completion.TrySetException(ex);
                return false;
            }

            if (!Completion.TrySetResult(call))
            {
                // The client left just now: the server hears so, as it would had the call been under way.
                call.Abandon();
            }

            return true;
        }

        public override void Cancel(CancellationToken token) => Completion.TrySetCanceled(token);

        public override void Fail(Exception error) => Completion.TrySetException(error);
    }
}
