using System.Diagnostics;
using System.Diagnostics.CodeAnalysis;
using Microsoft.Extensions.Logging;
using Python.Runtime;

namespace GatewayBridge.Python;

/// <summary>
/// The long-lived threads that run Python app code for one host. Each keeps its Python thread state for its whole
/// life (so <c>threading.local</c> and extension modules see one thread), holds the GIL while it has work, and
/// releases it whenever it waits, so threads the app started keep running.
/// </summary>
[SuppressMessage("Design", "CA1001:Types that own disposable fields should be disposable", Justification = "A thread stuck in native code may still wait on the queue after the host stops; the queue is left to the collector.")]
internal sealed class PythonThreads
{
    private readonly PythonInterpreter _python;
    private readonly ILoggerFactory _loggers;
    private readonly ILogger _logger;
    private readonly WorkQueue<PythonCall> _queue;
    private readonly Thread[] _threads;
    private readonly ulong[] _pythonIds;
    private readonly bool[] _busy;

    public PythonThreads(PythonInterpreter python, int threads, QueueAccounting accounting, ILoggerFactory loggers, ILogger logger)
    {
        _python = python;
        _queue = new WorkQueue<PythonCall>(accounting);
        _loggers = loggers;
        _logger = logger;
        _threads = new Thread[threads];
        _pythonIds = new ulong[threads];
        _busy = new bool[threads];
        for (var i = 0; i < threads; i++)
        {
            var index = i;
            _threads[i] = new Thread(() => Work(index)) { IsBackground = true, Name = $"GatewayBridge Python {i + 1}" };
            _threads[i].Start();
        }
    }

    /// <summary>The threads that run app code.</summary>
    public int Count => _threads.Length;

    /// <summary>The threads running app code now.</summary>
    public int Busy => _busy.Count(b => b);

    /// <summary>Calls waiting for a thread.</summary>
    public int Queued => _queue.Count;

    /// <summary>Whether a new request of an app whose <c>QueueLimit</c> is <paramref name="limit"/> may be admitted: the host's apps share the threads.</summary>
    public bool HasRoomWithin(int limit) => _queue.Accounting.HasRoomWithin(limit);

    /// <summary>Queues a call; throws once the host is stopping.</summary>
    public void Enqueue(PythonCall call)
    {
        if (!_queue.TryAdd(call))
        {
            throw new InvalidOperationException("The host is stopping; its Python threads take no more requests.");
        }
    }

    /// <summary>
    /// Lets the threads finish what is queued and running for up to <paramref name="grace"/>, then interrupts app
    /// code still running (a <c>KeyboardInterrupt</c> raised in it). Threads are background threads: one stuck in native
    /// code never holds up the process.
    /// </summary>
    public void Stop(TimeSpan grace, CancellationToken cancellationToken)
    {
        _queue.CompleteAdding();
        var deadline = Stopwatch.GetTimestamp() + (long)(grace.TotalSeconds * Stopwatch.Frequency);
        if (JoinAll(deadline, cancellationToken))
        {
            return;
        }

        var busy = Enumerable.Range(0, _threads.Length).Where(i => Volatile.Read(ref _busy[i])).Select(i => _pythonIds[i]).ToList();
        if (busy.Count == 0)
        {
            return;
        }

        _logger.ThreadsInterrupted(busy.Count);

        // Taking the GIL to raise the interrupts could itself wait on a thread stuck in C: it gets a bounded wait.
        var interrupt = new Thread(() =>
        {
            using (Py.GIL())
            {
                foreach (var id in busy)
                {
                    PythonEngine.Interrupt(id);
                }
            }
        })
        { IsBackground = true, Name = "GatewayBridge Python stop" };
        interrupt.Start();
        interrupt.Join(TimeSpan.FromSeconds(2));
        JoinAll(Stopwatch.GetTimestamp() + (2 * Stopwatch.Frequency), CancellationToken.None);
    }

    // Waits for every thread to end, until the deadline or the host's shutdown timeout, whichever comes first.
    private bool JoinAll(long deadline, CancellationToken cancellationToken)
    {
        foreach (var thread in _threads)
        {
            while (!thread.Join(TimeSpan.FromMilliseconds(50)))
            {
                if (cancellationToken.IsCancellationRequested || Stopwatch.GetTimestamp() >= deadline)
                {
                    return false;
                }
            }
        }

        return true;
    }

    private void Work(int index)
    {
        PythonHostSink.EnterHostThread(_loggers);
        var accounting = _queue.Accounting;
        accounting.RunnerStarted();
        using (Py.GIL())
        {
            _pythonIds[index] = PythonEngine.GetPythonThreadID();
            while (Take(out var call))
            {
                accounting.BusyStarted();
                Volatile.Write(ref _busy[index], true);
                try
                {
                    call.Run(_python);
                }
                catch (Exception ex)
                {
                    // Run answers the request whatever Python does; this is the net under that net, because an
                    // exception leaving a thread would end the whole process.
                    _logger.PythonThreadFailed(ex);
                }
                finally
                {
                    Volatile.Write(ref _busy[index], false);
                    accounting.BusyEnded();
                }
            }
        }

        accounting.RunnerStopped();
    }

    // The GIL stays with a thread that finds work waiting (no hand-over between threads that both have work) and is
    // released only while the thread waits for more.
    private bool Take(out PythonCall call)
    {
        if (_queue.TryTake(out call))
        {
            return true;
        }

        var state = PythonEngine.BeginAllowThreads();
        try
        {
            return _queue.TryTake(out call, Timeout.Infinite);
        }
        finally
        {
            PythonEngine.EndAllowThreads(state);
        }
    }
}
