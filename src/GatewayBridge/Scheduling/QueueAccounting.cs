using System.Diagnostics;
using System.Diagnostics.Metrics;

namespace GatewayBridge;

/// <summary>
/// The bookkeeping shared by everything that queues app code (the .NET app threads, the Python threads, the Python
/// worker processes): how many calls wait, whether the queue has room for one more request, and the bridge's meters
/// for what runs the calls (threads, or worker processes), how many are busy, queued calls and their wait.
/// </summary>
internal sealed class QueueAccounting
{
    private readonly int _limit;
    private readonly GatewayMetrics _metrics;
    private readonly UpDownCounter<long> _runners;
    private readonly UpDownCounter<long> _busy;
    private int _queued;

    /// <summary>Counts threads: <c>gatewaybridge.app_threads</c> and <c>gatewaybridge.busy_app_threads</c>.</summary>
    public QueueAccounting(int limit, GatewayMetrics metrics)
        : this(limit, metrics, metrics.AppThreads, metrics.BusyAppThreads)
    {
    }

    /// <summary>Counts what runs the calls in <paramref name="runners"/>, and those with a call in <paramref name="busy"/>.</summary>
    public QueueAccounting(int limit, GatewayMetrics metrics, UpDownCounter<long> runners, UpDownCounter<long> busy)
    {
        _limit = limit;
        _metrics = metrics;
        _runners = runners;
        _busy = busy;
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

    /// <summary>Counts what runs calls (an app thread, a Python thread, a worker process) coming into service.</summary>
    public void RunnerStarted(int count = 1)
    {
        _runners.Add(count);
        _metrics.LegacyWorkers.Add(count);
    }

    /// <summary>Counts what runs calls leaving service.</summary>
    public void RunnerStopped(int count = 1)
    {
        _runners.Add(-count);
        _metrics.LegacyWorkers.Add(-count);
    }

    /// <summary>Counts a runner that took a call.</summary>
    public void BusyStarted()
    {
        _busy.Add(1);
        _metrics.LegacyBusyWorkers.Add(1);
    }

    /// <summary>Counts a runner whose calls are done.</summary>
    public void BusyEnded()
    {
        _busy.Add(-1);
        _metrics.LegacyBusyWorkers.Add(-1);
    }
}
