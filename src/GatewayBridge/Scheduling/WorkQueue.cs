using System.Collections.Concurrent;

namespace GatewayBridge;

/// <summary>
/// Calls waiting for a thread that runs app code (a .NET worker thread, a Python thread), in order, counted by a
/// <see cref="QueueAccounting"/>. Threads take from it blocking; adding never blocks.
/// </summary>
internal sealed class WorkQueue<T> : IDisposable
{
    private readonly BlockingCollection<(T Item, long Enqueued)> _items = new(new ConcurrentQueue<(T, long)>());

    public WorkQueue(QueueAccounting accounting) => Accounting = accounting;

    public QueueAccounting Accounting { get; }

    /// <summary>Calls waiting.</summary>
    public int Count => _items.Count;

    /// <summary>Queues a call; <see langword="false"/> once the queue was completed.</summary>
    public bool TryAdd(T item)
    {
        var enqueued = Accounting.Enqueue();
        try
        {
            _items.Add((item, enqueued));
            return true;
        }
        catch (InvalidOperationException)
        {
            Accounting.Leave();
            return false;
        }
    }

    /// <summary>
    /// Takes the next call, waiting up to <paramref name="millisecondsTimeout"/> (0: not at all, -1: until one
    /// comes, the queue is completed and empty, or <paramref name="cancellationToken"/> is cancelled).
    /// </summary>
    public bool TryTake(out T item, int millisecondsTimeout = 0, CancellationToken cancellationToken = default)
    {
        try
        {
            if (_items.TryTake(out var entry, millisecondsTimeout, cancellationToken))
            {
                Accounting.Dequeue(entry.Enqueued);
                item = entry.Item;
                return true;
            }
        }
        catch (OperationCanceledException) when (cancellationToken.IsCancellationRequested)
        {
        }

        item = default!;
        return false;
    }

    /// <summary>Takes no more calls; the threads finish those already waiting, then find the queue empty.</summary>
    public void CompleteAdding() => _items.CompleteAdding();

    /// <summary>Takes no more calls, and none of those still waiting will run: they are returned, so that their callers can be answered.</summary>
    public List<T> Cancel()
    {
        _items.CompleteAdding();
        var left = new List<T>();
        while (_items.TryTake(out var entry))
        {
            Accounting.Leave();
            left.Add(entry.Item);
        }

        return left;
    }

    public void Dispose() => _items.Dispose();
}
