using System.Buffers;
using System.Diagnostics;
using System.Threading.Channels;

namespace GatewayBridge.Python;

/// <summary>
/// One WSGI request on a worker process: the parts of its response as the worker sends them, the credit that keeps the
/// worker at most <see cref="WorkerProtocol.Window"/> bytes ahead of the client, and when the worker last showed
/// progress on it (the supervisor's timeout).
/// </summary>
internal sealed class WsgiCall : FramedCall
{
    // Unbounded on purpose: the worker's window bounds what can be in it, so the connection's reader never waits
    // for one slow client while other requests on the same worker have frames to deliver. The request's code runs on
    // the reader's thread when a part arrives (it only queues writes to Kestrel and frames to the worker), which saves
    // a thread hop per frame.
    private readonly Channel<WsgiResponsePart> _parts = Channel.CreateUnbounded<WsgiResponsePart>(
        new UnboundedChannelOptions { SingleReader = true, AllowSynchronousContinuations = true });

    private readonly TaskCompletionSource _finished = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private readonly Func<WsgiCall, bool>? _takeBack;
    private long _outstanding;
    private long _lastProgress;
    private volatile bool _stopped;

    // Set before the last part is posted: the request reads it (and stops, on this very thread) before the connection
    // completes the call, and must not take an answered call for one the worker still runs.
    private volatile bool _ended;

    // True once the worker sent a frame for it: it has taken the request.
    private volatile bool _taken;

    /// <summary>A call whose <paramref name="takeBack"/> takes it back from the worker's queue if no thread there has taken it (true if it did).</summary>
    public WsgiCall(FramedConnection connection, uint id, string path, Func<WsgiCall, bool>? takeBack = null)
        : base(connection, id, path)
    {
        _takeBack = takeBack;
    }

    public ChannelReader<WsgiResponsePart> Parts => _parts.Reader;

    /// <summary>When a thread of the worker took the request, in CLOCK_MONOTONIC nanoseconds; 0 unless it was traced (Request flag Traced).</summary>
    public long StartedAt { get; private set; }

    /// <summary>Body bytes the worker has sent that the client has not yet taken.</summary>
    public long Outstanding => Interlocked.Read(ref _outstanding);

    /// <summary>Completed when the worker is done with the request (its last frame came, or the worker failed it).</summary>
    public Task Finished => _finished.Task;

    /// <summary>
    /// Whether app code has run for this call for longer than <paramref name="limit"/> (Stopwatch ticks) without a
    /// sign of progress. The clock starts when the watchdog first sees the call <paramref name="started"/> (not when it
    /// was sent ahead), restarts at each frame, each grant of credit and the request's cancel, and stands still while
    /// the worker waits for credit: then it waits for the client, not for the app.
    /// </summary>
    public override bool IsStuck(long now, long limit, bool started)
    {
        if (_ended)
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

        return (_stopped || Interlocked.Read(ref _outstanding) < WorkerProtocol.Window) && now - last > limit;
    }

    private void Progress() => Interlocked.Exchange(ref _lastProgress, Stopwatch.GetTimestamp());

    public override bool OnFrame(FrameType type, byte flags, ReadOnlySpan<byte> payload)
    {
        _taken = true;
        Progress();
        switch (type)
        {
            case FrameType.Response:
                return OnResponse(flags, payload);
            case FrameType.File:
                var (head, offset, count, path) = FrameReader.ReadFile(flags, payload);
                var file = OpenFile(flags, path, offset, count);
                _ended = true;
                Post(new(WsgiPartKind.File, head, null, 0, file, null, null));
                return true;
            case FrameType.Error:
                var (errorType, message, traceback) = FrameReader.ReadError(payload);
                _ended = true;
                Post(new(WsgiPartKind.Error, null, null, 0, null, new PythonAppException(errorType, message, traceback), null));
                return true;
            case FrameType.Started:
                StartedAt = FrameReader.ReadStarted(payload);
                return false;
            case FrameType.CloseFailed:
                Post(new(WsgiPartKind.CloseFailed, null, null, 0, null, null, WsgiResponsePart.CloseFailed(FrameReader.ReadText(payload))));
                return false;
            default:
                throw new InvalidDataException($"a {type} frame for WSGI request {Id}");
        }
    }

    // A file the worker names is sent by its name; one it holds only a descriptor of (a deleted temporary file) is
    // opened here through /proc, and the worker may then close its copy. Either way no byte crosses the socket.
    private WsgiFile OpenFile(byte flags, string path, long offset, long count)
    {
        if ((flags & FrameFlags.Descriptor) == 0)
        {
            return new WsgiFile(null, path, offset, count);
        }

        try
        {
            return new WsgiFile(File.OpenHandle(path), null, offset, count);
        }
        finally
        {
            Connection.Send(FrameWriter.Frame(FrameType.Done, Id));
        }
    }

    private bool OnResponse(byte flags, ReadOnlySpan<byte> payload)
    {
        var (head, total) = FrameReader.ReadResponse(flags, ref payload);
        var end = (flags & FrameFlags.End) != 0;
        var kind = (flags & FrameFlags.Whole) != 0 ? WsgiPartKind.Whole
            : total is not null ? WsgiPartKind.Length
            : end ? WsgiPartKind.End
            : WsgiPartKind.Chunk;

        if (kind is WsgiPartKind.Chunk or WsgiPartKind.Length)
        {
            Interlocked.Add(ref _outstanding, payload.Length);
        }

        var buffer = ArrayPool<byte>.Shared.Rent(Math.Max(payload.Length, 1));
        payload.CopyTo(buffer);
        _ended |= end;
        Post(new(kind, head, buffer, payload.Length, null, null, null, total ?? 0));
        return end;
    }

    private void Post(WsgiResponsePart part)
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
        Connection.Send(FrameWriter.Count(FrameType.Credit, Id, bytes));
    }

    public override void Complete()
    {
        _ended = true;
        _parts.Writer.TryComplete();
        _finished.TrySetResult();
    }

    public override void Fail(TransportFailure failure)
    {
        _ended = true;
        _parts.Writer.TryWrite(new(WsgiPartKind.TransportFailed, null, null, 0, null, null, null, 0, failure));
        _parts.Writer.TryComplete();
        _finished.TrySetResult();
    }

    public override void Abandon() => Stop();

    /// <summary>
    /// Called by the request when it stops reading: if the worker is still at it, it is told to close the app's
    /// iterable at its next step, and no more credit is granted.
    /// </summary>
    public void Stop()
    {
        _stopped = true;
        if (!_ended && (_taken || _takeBack?.Invoke(this) != true))
        {
            // The app's close() now runs: it gets the timeout of its own. (A request still in the worker's queue was
            // taken back instead, and never reaches the app.)
            Progress();
            Connection.Send(FrameWriter.Frame(FrameType.Cancel, Id));
        }

        _parts.Writer.TryComplete();
        while (_parts.Reader.TryRead(out var part))
        {
            part.Release();
        }
    }
}
