using System.Diagnostics;

namespace GatewayBridge;

/// <summary>
/// The bookkeeping shared by everything that queues app code (the .NET worker pool, the Python threads, the Python
/// worker processes): how many calls wait, whether the queue has room for one more request, and the bridge's meters
/// for workers, busy workers, queued calls and their wait.
/// </summary>
internal sealed class QueueAccounting
{
    private readonly int _limit;
    private readonly GatewayMetrics _metrics;
    private int _queued;

    public QueueAccounting(int limit, GatewayMetrics metrics)
    {
        _limit = limit;
        _metrics = metrics;
    }

    /// <summary>Calls waiting to run.</summary>
    public int Queued => Volatile.Read(ref _queued);

    /// <summary>Whether a new request may be admitted: checked before its body is read, so a full queue answers 503 at once.</summary>
    public bool HasRoom => Queued < _limit;

    /// <summary>As <see cref="HasRoom"/>, for one app's own limit on a queue that several apps share.</summary>
    public bool HasRoomWithin(int limit) => Queued < limit;

    /// <summary>Counts a call that starts to wait; returns the timestamp to hand back when it stops waiting.</summary>
    public long Enqueue()
    {
        Interlocked.Increment(ref _queued);
        _metrics.QueuedCalls.Add(1);
        return Stopwatch.GetTimestamp();
    }

    /// <summary>Counts a call that stopped waiting: it runs now, and its wait is recorded.</summary>
    public void Dequeue(long enqueued)
    {
        Leave();
        _metrics.QueueDuration.Record(Stopwatch.GetElapsedTime(enqueued).TotalSeconds);
    }

    /// <summary>Counts a call that left the queue without running (its request ended, or the host stopped).</summary>
    public void Leave()
    {
        Interlocked.Decrement(ref _queued);
        _metrics.QueuedCalls.Add(-1);
    }

    public void WorkerStarted(int count = 1) => _metrics.Workers.Add(count);

    public void WorkerStopped(int count = 1) => _metrics.Workers.Add(-count);

    public void BusyStarted() => _metrics.BusyWorkers.Add(1);

    public void BusyEnded() => _metrics.BusyWorkers.Add(-1);
}
