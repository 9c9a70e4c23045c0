using System.Diagnostics;

namespace GatewayBridge.Python;

/// <summary>
/// Chooses the worker process for each request of one app, and nothing else: a worker with a free thread, the least
/// loaded first; while none has one, a WSGI worker is sent a few requests ahead, into its request queue, so that it finds
/// its next one waiting; beyond that, requests wait in the bridge's queue. A request sent ahead is not tied to its
/// worker: until a thread of the worker takes it, the pool can take it back (<see cref="RequestQueue"/>), and does as
/// soon as another worker has a free thread and nothing waits in the bridge's queue. Its supervisor adds a worker once
/// it is ready and removes it when it retires or dies; the requests a removed worker never took go to the others.
/// </summary>
internal sealed class WorkerPool
{
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

    /// <summary>Requests waiting for a thread of a worker: in the bridge's queue, and sent ahead into a worker's.</summary>
    public int Queued => _accounting.Queued;

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

    /// <summary>A ready worker: from now on it is chosen, and takes the requests waiting for one (or sent ahead to another).</summary>
    public void Add(Worker worker)
    {
        List<Waiter>? next;
        Worker? busy;
        lock (_lock)
        {
            if (_stopped || !_serving.TryAdd(worker, new Load()))
            {
                return;
            }

            _accounting.RunnerStarted();
            next = HandOut(worker);
            busy = next is null ? AheadOfABusyThread() : null;
        }

        Send(worker, next);
        TakeBack(busy, 1);
    }

    /// <summary>
    /// The worker is never chosen again (it retires, stops or died), and the requests in its queue go to the others;
    /// false if it was not being chosen.
    /// </summary>
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

            load.LeaveAhead(_accounting, load.Ahead.Count);
        }

        foreach (var id in worker.Requests?.TakeBack() ?? [])
        {
            worker.Connection.FailNeverSent(id, TakenBack(worker));
        }

        return true;
    }

    /// <summary>
    /// Opens the request on a worker with a free thread, or sends it ahead to one with room in its queue, now or, after
    /// waiting in the bridge's queue, as soon as one has: the worker that frees a thread opens the next waiting request
    /// itself, on the thread that heard of it, so the queue costs no extra thread hop.
    /// </summary>
    public ValueTask<T> DispatchAsync<T>(Func<Worker, T> open, CancellationToken cancellationToken)
        where T : FramedCall
    {
        Waiter<T> waiter;
        Worker? chosen;
        lock (_lock)
        {
            ObjectDisposedException.ThrowIf(_stopped, this);

            // Sent ahead while every thread is busy, a request is already in the worker when a thread frees, and a
            // worker takes several per read of its queue (python-load.sh: a bare hello at 1 request ahead per thread
            // ran at 13.5k req/s, at 3 ahead 19.1k, at 7 ahead 17.9k).
            chosen = FreeWorker(_threads) ?? FreeWorker(_depth);
            if (chosen is not null)
            {
                Take(chosen, enqueued: null);
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
            return new ValueTask<T>(open(chosen));
        }
        catch (RequestQueueFullException)
        {
            // Its queue had no room (its threads are slow to take what it holds): another worker, or the bridge's queue.
            Refuse(chosen, waiter: null);
            return DispatchAsync(open, cancellationToken);
        }
        catch
        {
            // The request never reached it (its first frame could not be built): the worker's thread is free again.
            Release(chosen, served: false);
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

    /// <summary>
    /// Takes the call back from its worker's queue if no thread of the worker has taken it (its client left): true if it
    /// was there, and then it never reaches the app. The requests taken back with it go to a worker again.
    /// </summary>
    public bool TakeBack(Worker worker, FramedCall call)
    {
        var found = false;
        foreach (var id in TakeBackIds(worker, int.MaxValue))
        {
            found |= id == call.Id;
            worker.Connection.FailNeverSent(id, TakenBack(worker));
        }

        return found;
    }

    // A worker with a free thread and nothing waiting for it in the bridge takes the oldest request sent ahead to a busy
    // one: a request never waits behind another worker's slow call while this one is free.
    private void TakeBack(Worker? busy, int most)
    {
        if (busy is null)
        {
            return;
        }

        foreach (var id in TakeBackIds(busy, most))
        {
            // It fails as never sent, and its request dispatches it again: to the worker with the free thread.
            busy.Connection.FailNeverSent(id, TakenBack(busy));
        }
    }

    private List<uint> TakeBackIds(Worker worker, int most)
    {
        if (worker.Requests is not { } queue)
        {
            return [];
        }

        lock (_lock)
        {
            var ids = queue.TakeBack(most);
            if (ids.Count > 0 && _serving.TryGetValue(worker, out var load))
            {
                load.InFlight -= ids.Count;
                load.LeaveAhead(_accounting, ids.Count);
                if (load.InFlight == 0)
                {
                    _accounting.BusyEnded();
                }
            }

            return ids;
        }
    }

    private static TransportFailure TakenBack(Worker worker) => TransportFailure.Worker(worker.Pid, "had not taken it yet") with { NeverSent = true };

    // Under the lock: a worker with fewer than `limit` requests and room in its queue, the least loaded first, and of
    // those the one that finished a call last (its memory is warm).
    private Worker? FreeWorker(int limit)
    {
        Worker? best = null;
        Load? bestLoad = null;
        foreach (var (worker, load) in _serving)
        {
            if (!worker.Exited.IsCompleted && load.InFlight < limit && !load.Full
                && (bestLoad is null || load.InFlight < bestLoad.InFlight || (load.InFlight == bestLoad.InFlight && load.Progress > bestLoad.Progress)))
            {
                best = worker;
                bestLoad = load;
            }
        }

        return best;
    }

    // Under the lock: a worker holding requests beyond its threads (sent ahead, perhaps behind a slow call), or none.
    private Worker? AheadOfABusyThread()
    {
        foreach (var (worker, load) in _serving)
        {
            if (load.InFlight > _threads && worker.Requests is not null)
            {
                return worker;
            }
        }

        return null;
    }

    // Under the lock: the worker takes a request; one sent ahead of a free thread counts as queued until a thread frees.
    private void Take(Worker worker, long? enqueued)
    {
        var load = _serving[worker];
        if (load.InFlight++ == 0)
        {
            _accounting.BusyStarted();
        }

        if (load.InFlight > _threads)
        {
            load.Ahead.Enqueue(enqueued ?? _accounting.Enqueue());
        }
        else if (enqueued is { } waited)
        {
            _accounting.Dequeue(waited);
        }
    }

    // The worker's queue had no room for a request it was given: it is sent nothing until one of its calls ends, and the
    // request (a waiter, or one dispatched directly) is counted as it was before it was given.
    private void Refuse(Worker worker, Waiter? waiter)
    {
        lock (_lock)
        {
            if (!_serving.TryGetValue(worker, out var load))
            {
                return;
            }

            load.Full = true;
            if (--load.InFlight == 0)
            {
                _accounting.BusyEnded();
            }

            if (load.InFlight >= _threads && load.Ahead.Count > 0)
            {
                // It was counted as sent ahead: a waiter goes on counting as queued; a direct request stops.
                load.Ahead.Dequeue();
                if (waiter is null)
                {
                    _accounting.Leave();
                }
            }
            else if (waiter is not null)
            {
                // It had been counted as started: it waits again.
                _ = _accounting.Enqueue();
            }

            if (waiter is not null)
            {
                waiter.Node = _waiters.AddFirst(waiter);
            }
        }
    }

    /// <summary>A call on the worker ended: its thread goes to the next request waiting.</summary>
    public void Release(Worker worker) => Release(worker, served: true);

    private void Release(Worker worker, bool served)
    {
        List<Waiter>? next;
        Worker? busy = null;
        var free = 0;
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

            if (load.Ahead.Count > 0 && load.InFlight - load.Ahead.Count < _threads)
            {
                // A request sent ahead now has the thread.
                _accounting.Dequeue(load.Ahead.Dequeue());
            }

            if (served)
            {
                load.Full = false;
                load.Progress = Stopwatch.GetTimestamp();
            }

            next = HandOut(worker);
            if (next is null && load.InFlight < _threads)
            {
                busy = AheadOfABusyThread();
                free = _threads - load.InFlight;
            }
        }

        Send(worker, next);
        TakeBack(busy, free);
    }

    // Under the lock: takes waiting requests for the worker's free threads and its queue (opened by Send once the lock
    // is released).
    private List<Waiter>? HandOut(Worker worker)
    {
        List<Waiter>? next = null;
        var load = _serving[worker];
        while (load.InFlight < _depth && !load.Full && _waiters.First is { } first)
        {
            _waiters.RemoveFirst();
            Take(worker, first.Value.Enqueued);
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
            switch (waiter.Send(worker))
            {
                case SendResult.Failed:
                    Release(worker, served: false);
                    break;
                case SendResult.Full:
                    Refuse(worker, waiter);
                    break;
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

                load.LeaveAhead(_accounting, load.Ahead.Count);
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
        /// <summary>Requests the worker has been given and not finished, those in its queue included.</summary>
        public int InFlight;

        /// <summary>When each request sent ahead of a free thread was sent (or started to wait in the bridge), oldest first.</summary>
        public readonly Queue<long> Ahead = new();

        /// <summary>When it last finished a call (a timestamp).</summary>
        public long Progress;

        /// <summary>Its queue refused a request: nothing is sent to it until one of its calls ends.</summary>
        public bool Full;

        // Requests sent ahead that left its queue without a thread of it taking them: they count as queued no more.
        public void LeaveAhead(QueueAccounting accounting, int count)
        {
            for (var i = 0; i < count && Ahead.TryDequeue(out _); i++)
            {
                accounting.Leave();
            }
        }
    }

    private enum SendResult
    {
        Sent,

        /// <summary>Its first frame could not be built: the request has failed.</summary>
        Failed,

        /// <summary>The worker's queue had no room: the request waits again.</summary>
        Full,
    }

    private abstract class Waiter(long enqueued)
    {
        public long Enqueued { get; } = enqueued;

        public LinkedListNode<Waiter>? Node { get; set; }

        /// <summary>Opens the waiting request on <paramref name="worker"/>, on the thread that freed it.</summary>
        public abstract SendResult Send(Worker worker);

        public abstract void Cancel(CancellationToken token);

        public abstract void Fail(Exception error);
    }

    private sealed class Waiter<T>(Func<Worker, T> open, long enqueued) : Waiter(enqueued)
        where T : FramedCall
    {
        // The request goes on, inline, on the thread that freed the worker (usually its connection's reader, which holds
        // no lock then): no thread-pool hop for a request that waited.
        public TaskCompletionSource<T> Completion { get; } = new();

        public override SendResult Send(Worker worker)
        {
            T call;
            try
            {
                call = open(worker);
            }
            catch (RequestQueueFullException)
            {
                return SendResult.Full;
            }
            catch (Exception ex)
            {
                Completion.TrySetException(ex);
                return SendResult.Failed;
            }

            if (!Completion.TrySetResult(call))
            {
                // The client left just now: the server hears so, as it would had the call been under way.
                call.Abandon();
            }

            return SendResult.Sent;
        }

        public override void Cancel(CancellationToken token) => Completion.TrySetCanceled(token);

        public override void Fail(Exception error) => Completion.TrySetException(error);
    }
}
