using System.Buffers;
using System.Buffers.Binary;
using System.Diagnostics;
using System.Text;
using System.Threading.Channels;

namespace GatewayBridge.Python;

/// <summary>
/// One request on a worker process: the parts of its response as the worker sends them, the credit that keeps the
/// worker at most <see cref="WorkerFrames.Window"/> bytes ahead of the client, and when the worker last showed
/// progress on it (the supervisor's timeout).
/// </summary>
internal sealed class WorkerCall : IWorkerCall
{
    // Unbounded on purpose: the worker's window bounds what can be in it, so the connection's reader never waits
    // for one slow client while other requests on the same worker have frames to deliver. The request's code runs on
    // the reader's thread when a part arrives (it only queues writes to Kestrel and frames to the worker), which saves
    // a thread hop per frame.
    private readonly Channel<PythonResponsePart> _parts = Channel.CreateUnbounded<PythonResponsePart>(
        new UnboundedChannelOptions { SingleReader = true, AllowSynchronousContinuations = true });

    private readonly TaskCompletionSource _finished = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private long _outstanding;
    private long _lastProgress;
    private volatile bool _stopped;

    public WorkerCall(WorkerProcess worker, uint id, string path)
    {
        Worker = worker;
        Id = id;
        Path = path;
    }

    public WorkerProcess Worker { get; }

    public uint Id { get; }

    /// <summary>The request's path, for the worker's log events.</summary>
    public string Path { get; }

    public ChannelReader<PythonResponsePart> Parts => _parts.Reader;

    /// <summary>Body bytes the worker has sent that the client has not yet taken.</summary>
    public long Outstanding => Interlocked.Read(ref _outstanding);

    /// <summary>Completed when the worker is done with the request (its last frame came, or the worker died).</summary>
    public Task Finished => _finished.Task;

    /// <summary>
    /// Whether app code has run for this call for longer than <paramref name="limit"/> (Stopwatch ticks) without a
    /// sign of progress. The clock starts when the watchdog first sees the call <paramref name="started"/> (not when it
    /// was sent ahead), restarts at each frame, each grant of credit and the request's cancel, and stands still while
    /// the worker waits for credit: then it waits for the client, not for the app.
    /// </summary>
    public bool IsStuck(long now, long limit, bool started)
    {
        if (_finished.Task.IsCompleted)
        {
            return false;
        }

        var last = Interlocked.Read(ref _lastProgress);
        if (last == 0)
        {
            if (started)
            {
                Interlocked.CompareExchange(ref _lastProgress, now, 0);
            }

            return false;
        }

        return (_stopped || Interlocked.Read(ref _outstanding) < WorkerFrames.Window) && now - last > limit;
    }

    private void Progress() => Interlocked.Exchange(ref _lastProgress, Stopwatch.GetTimestamp());

    /// <summary>Handles a frame the worker sent for this call; returns whether it was the last one.</summary>
    public bool OnFrame(byte type, byte flags, ReadOnlySpan<byte> payload)
    {
        Progress();
        switch (type)
        {
            case WorkerFrames.Response:
                return OnResponse(flags, payload);
            case WorkerFrames.File:
                var head = ReadHead(flags, ref payload);
                var offset = BinaryPrimitives.ReadInt64LittleEndian(payload);
                var count = BinaryPrimitives.ReadInt64LittleEndian(payload[8..]);
                var path = Encoding.UTF8.GetString(payload[16..]);
                Post(new(PythonStepKind.File, head, null, 0, OpenFile(flags, path, offset, count), null, null));
                return true;
            case WorkerFrames.Error:
                var fields = Encoding.UTF8.GetString(payload).Split('\0', 3);
                Post(new(PythonStepKind.Error, null, null, 0, null, new PythonAppException(fields[0], fields[1], fields[2]), null));
                return true;
            case WorkerFrames.CloseFailed:
                Post(new(PythonStepKind.CloseFailed, null, null, 0, null, null, PythonCall.CloseFailure(Encoding.UTF8.GetString(payload))));
                return false;
            default:
                throw new InvalidDataException($"The worker sent a frame of type {type} for request {Id}.");
        }
    }

    // A file the worker names is sent by its name; one it holds only a descriptor of (a deleted temporary file) is
    // opened here through /proc, and the worker may then close its copy. Either way no byte crosses the socket.
    private PythonFile OpenFile(byte flags, string path, long offset, long count)
    {
        if ((flags & WorkerFrames.DescriptorFlag) == 0)
        {
            return new PythonFile(null, path, offset, count);
        }

        try
        {
            return new PythonFile(File.OpenHandle(path), null, offset, count);
        }
        finally
        {
            Worker.Send(WorkerFrames.Build(WorkerFrames.Done, Id));
        }
    }

    private bool OnResponse(byte flags, ReadOnlySpan<byte> payload)
    {
        var head = ReadHead(flags, ref payload);
        long? total = null;
        if ((flags & WorkerFrames.LengthFlag) != 0)
        {
            total = BinaryPrimitives.ReadInt64LittleEndian(payload);
            payload = payload[8..];
        }

        var end = (flags & WorkerFrames.EndFlag) != 0;
        var kind = (flags & WorkerFrames.WholeFlag) != 0 ? PythonStepKind.Whole
            : total is not null ? PythonStepKind.Length
            : end ? PythonStepKind.End
            : PythonStepKind.Chunk;

        if (kind is PythonStepKind.Chunk or PythonStepKind.Length)
        {
            Interlocked.Add(ref _outstanding, payload.Length);
        }

        var buffer = ArrayPool<byte>.Shared.Rent(Math.Max(payload.Length, 1));
        payload.CopyTo(buffer);
        Post(new(kind, head, buffer, payload.Length, null, null, null, total ?? 0));
        return end;
    }

    private static string? ReadHead(byte flags, ref ReadOnlySpan<byte> payload)
    {
        if ((flags & WorkerFrames.HeadFlag) == 0)
        {
            return null;
        }

        var length = BinaryPrimitives.ReadInt32LittleEndian(payload);
        var head = Encoding.UTF8.GetString(payload.Slice(4, length));
        payload = payload[(4 + length)..];
        return head;
    }

    private void Post(PythonResponsePart part)
    {
        if (_stopped || !_parts.Writer.TryWrite(part))
        {
            part.Release();
        }
    }

    /// <summary>The request sent <paramref name="bytes"/> of body to the client: the worker may send as many more.</summary>
    public void Credit(int bytes)
    {
        if (bytes <= 0 || _stopped)
        {
            return;
        }

        Interlocked.Add(ref _outstanding, -bytes);
        Progress();
        Worker.Send(WorkerFrames.BuildCredit(Id, bytes));
    }

    /// <summary>The worker is done with the request: its last frame came.</summary>
    public void Complete()
    {
        _parts.Writer.TryComplete();
        _finished.TrySetResult();
    }

    /// <summary>The worker failed the request without answering it (it died, timed out or broke the protocol).</summary>
    public void Fail(WorkerFailure failure)
    {
        _parts.Writer.TryWrite(new(PythonStepKind.WorkerFailed, null, null, 0, null, null, null, 0, failure));
        _parts.Writer.TryComplete();
        _finished.TrySetResult();
    }

    /// <summary>
    /// Called by the request when it stops reading: if the worker is still at it, it is told to close the app's
    /// iterable at its next step, and no more credit is granted.
    /// </summary>
    public void Stop()
    {
        _stopped = true;
        if (!_finished.Task.IsCompleted)
        {
            // The app's close() now runs: it gets the timeout of its own.
            Progress();
            Worker.Send(WorkerFrames.Build(WorkerFrames.Cancel, Id));
        }

        _parts.Writer.TryComplete();
        while (_parts.Reader.TryRead(out var part))
        {
            part.Release();
        }
    }
}
