namespace GatewayBridge.Python;

/// <summary>Where a worker process is in its life.</summary>
internal enum WorkerState
{
    /// <summary>Started, not yet ready: connecting, proving itself, importing the app.</summary>
    Starting,

    /// <summary>Ready: its pool may give it requests.</summary>
    Serving,

    /// <summary>Being replaced: it takes nothing new, and stops once what it holds is done (an ASGI worker at once).</summary>
    Retiring,

    /// <summary>Told to stop (or killed): it finishes what it holds within the grace, or is killed.</summary>
    Stopping,

    /// <summary>The process has ended.</summary>
    Exited,
}

/// <summary>Why a worker is replaced; <see cref="RetireReasons.Tag"/> is the metric's tag and the log's word.</summary>
internal enum RetireReason
{
    /// <summary>It exited on its own (a crash, <c>os._exit</c>, a signal, a broken protocol).</summary>
    Exited,

    /// <summary>App code ran longer than <c>Timeout</c>; it was killed.</summary>
    Timeout,

    /// <summary>It served <c>MaxRequests</c> (plus its jitter).</summary>
    MaxRequests,

    /// <summary>Its memory passed <c>MaxWorkerMemory</c>.</summary>
    Memory,

    /// <summary>It got SIGTERM.</summary>
    Signal,

    /// <summary>The app was reloaded (<c>IPythonWorkers.ReloadAsync</c>, SIGHUP, a changed source file).</summary>
    Reload,

    /// <summary>The pool was made smaller (<c>IPythonWorkers.RemoveWorker</c>, SIGTTOU): it is not replaced.</summary>
    Removed,
}

internal static class RetireReasons
{
    /// <summary>The reason as the metric's tag and the log say it: <c>exited</c>, <c>timeout</c>, <c>max_requests</c>, ...</summary>
    public static string Tag(this RetireReason reason) => reason switch
    {
        RetireReason.Exited => "exited",
        RetireReason.Timeout => "timeout",
        RetireReason.MaxRequests => "max_requests",
        RetireReason.Memory => "memory",
        RetireReason.Signal => "signal",
        RetireReason.Removed => "removed",
        RetireReason.Reload => "reload",
        _ => throw new ArgumentOutOfRangeException(nameof(reason)),
    };
}

/// <summary>
/// A worker's state and why it is in it, changed only by the transitions its life allows (as YARP keeps a destination's
/// health): Starting → Serving → Retiring → Stopping → Exited, where a worker may skip ahead (a host that stops stops
/// a serving worker; any worker may exit) but never go back. Each transition says whether it took place, so that two
/// threads that race to retire or stop a worker do it once.
/// </summary>
internal sealed class WorkerLife
{
    private readonly Lock _lock = new();

    public WorkerState State
    {
        get
        {
            lock (_lock)
            {
                return field;
            }
        }

        private set;
    }

    /// <summary>Why it is retiring, stopping or gone, when the host chose it; <see langword="null"/> otherwise.</summary>
    public RetireReason? Reason
    {
        get
        {
            lock (_lock)
            {
                return field;
            }
        }

        private set;
    }

    /// <summary>Starting → Serving: its app is loaded.</summary>
    public bool Serve() => Move(WorkerState.Serving, from: WorkerState.Starting, null);

    /// <summary>Serving → Retiring, for <paramref name="reason"/>.</summary>
    public bool Retire(RetireReason reason) => Move(WorkerState.Retiring, from: WorkerState.Serving, reason);

    /// <summary>Starting, Serving or Retiring → Stopping; the reason it had stays, or becomes <paramref name="reason"/>.</summary>
    public bool Stop(RetireReason? reason = null) => Move(WorkerState.Stopping, from: WorkerState.Retiring, reason);

    /// <summary>Any state → Exited; returns the state and the reason it left with (once; later calls return null).</summary>
    public (WorkerState Was, RetireReason? Reason)? Exit()
    {
        lock (_lock)
        {
            if (State == WorkerState.Exited)
            {
                return null;
            }

            var was = State;
            State = WorkerState.Exited;
            return (was, Reason);
        }
    }

    // Moves forward only: to `to` from any state up to `from` (the states are in the order of a life).
    private bool Move(WorkerState to, WorkerState from, RetireReason? reason)
    {
        lock (_lock)
        {
            if (State > from || State == to)
            {
                return false;
            }

            State = to;
            Reason ??= reason;
            return true;
        }
    }
}
