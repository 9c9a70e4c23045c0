namespace GatewayBridge;

/// <summary>
/// Decides where gateway app code runs. Legacy apps block (a database call, a file, a sleep); run inline on
/// ASP.NET Core's shared thread pool, a few dozen of them starve every endpoint of the host. So at most
/// <c>MaxInlineCalls</c> calls run inline, where a fast app costs nothing extra, and the rest go to a bounded set
/// of dedicated app threads, which may block without hurting anyone else. ("Worker" is kept for the Python worker
/// processes; these are threads of the host.)
/// </summary>
internal sealed class AppThreadPool : IDisposable
{
    private readonly int _maxInline;
    private readonly int _maxThreads;
    private readonly WorkQueue<WorkItem> _queue;
    private int _inline;
    private int _threads;
    private int _idle;

    public AppThreadPool(int maxInline, int maxThreads, int queueLimit, GatewayMetrics metrics)
    {
        _maxInline = maxInline;
        _maxThreads = maxThreads;
        _queue = new WorkQueue<WorkItem>(new QueueAccounting(queueLimit, metrics));
    }

    /// <summary>App threads waiting for a call; tests wait on it to know a thread is free again.</summary>
    public int IdleThreads => Volatile.Read(ref _idle);

    /// <summary>Whether a new request may be admitted: the queue has room (checked before its body is read).</summary>
    public bool HasRoom => _queue.Accounting.HasRoom;

    /// <summary>
    /// Runs app code: inline on the calling thread when a slot is free (a fast app never leaves the request's
    /// thread), otherwise on an app thread; a call whose request is cancelled while it waits never runs.
    /// </summary>
    public ValueTask<TResult> InvokeAsync<TState, TResult>(Func<TState, TResult> work, TState state, CancellationToken cancellationToken)
    {
        if (!TryEnterInline())
        {
            return new ValueTask<TResult>(RunOnThreadAsync(work, state, cancellationToken));
        }

        try
        {
            return new ValueTask<TResult>(work(state));
        }
        finally
        {
            Interlocked.Decrement(ref _inline);
        }
    }

    private Task<TResult> RunOnThreadAsync<TState, TResult>(Func<TState, TResult> work, TState state, CancellationToken cancellationToken)
    {
        var item = new WorkItem<TState, TResult>(work, state, cancellationToken);
        if (!_queue.TryAdd(item))
        {
            // Queued after the threads stopped, the call would wait forever.
            throw new InvalidOperationException("The gateway app's threads stopped with the host; no more calls run.");
        }

        if (Volatile.Read(ref _idle) == 0)
        {
            TryAddThread();
        }

        return item.Task;
    }

    private bool TryEnterInline()
    {
        var current = Volatile.Read(ref _inline);
        while (current < _maxInline)
        {
            var seen = Interlocked.CompareExchange(ref _inline, current + 1, current);
            if (seen == current)
            {
                return true;
            }

            current = seen;
        }

        return false;
    }

    public void Dispose()
    {
        // No thread takes a call after the stop: the callers of those still queued learn it now, not never.
        foreach (var item in _queue.Cancel())
        {
            item.Cancel();
        }
    }

    private void TryAddThread()
    {
        var count = Volatile.Read(ref _threads);
        while (count < _maxThreads)
        {
            var seen = Interlocked.CompareExchange(ref _threads, count + 1, count);
            if (seen == count)
            {
                var thread = new Thread(WorkLoop) { IsBackground = true, Name = $"GatewayBridge app thread {count + 1}" };
                thread.Start();
                return;
            }

            count = seen;
        }
    }

    private void WorkLoop()
    {
        var accounting = _queue.Accounting;
        accounting.RunnerStarted();
        try
        {
            while (true)
            {
                Interlocked.Increment(ref _idle);
                WorkItem? item;
                try
                {
                    if (!_queue.TryTake(out item, Timeout.Infinite))
                    {
                        return;
                    }
                }
                finally
                {
                    Interlocked.Decrement(ref _idle);
                }

                // Calls that arrived while this thread was idle started no thread of their own; if some are still
                // waiting and no other thread is free, one more starts, so they do not wait behind this call. That
                // thread repeats the check when it takes one, so a longer burst keeps adding threads up to the limit.
                if (_queue.Count > 0 && Volatile.Read(ref _idle) == 0)
                {
                    TryAddThread();
                }

                accounting.BusyStarted();
                try
                {
                    item.Execute();
                }
                finally
                {
                    accounting.BusyEnded();
                }
            }
        }
        finally
        {
            accounting.RunnerStopped();
        }
    }

    private abstract class WorkItem
    {
        public abstract void Execute();

        public abstract void Cancel();
    }

    private sealed class WorkItem<TState, TResult>(Func<TState, TResult> work, TState state, CancellationToken cancellationToken) : WorkItem
    {
        private readonly TaskCompletionSource<TResult> _completion = new(TaskCreationOptions.RunContinuationsAsynchronously);

        public Task<TResult> Task => _completion.Task;

        public override void Cancel() => _completion.TrySetCanceled();

        public override void Execute()
        {
            if (cancellationToken.IsCancellationRequested)
            {
                _completion.SetCanceled(cancellationToken);
                return;
            }

            try
            {
                _completion.SetResult(work(state));
            }
            catch (Exception ex)
            {
                _completion.SetException(ex);
            }
        }
    }
}
