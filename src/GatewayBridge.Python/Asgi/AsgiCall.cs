using System.Buffers;
using System.Buffers.Binary;
using System.Text;
using System.Threading.Channels;
using Microsoft.Extensions.Logging;

namespace GatewayBridge.Python;

/// <summary>What an ASGI app sent, as the request's code takes it.</summary>
internal enum AsgiPartKind
{
    /// <summary><c>http.response.start</c>: <see cref="AsgiPart.Status"/> and <see cref="AsgiPart.Headers"/>.</summary>
    Start,

    /// <summary><c>http.response.body</c>: <see cref="AsgiPart.Data"/>; <see cref="AsgiPart.Flag"/> is <c>more_body</c>.</summary>
    Body,

    /// <summary><c>websocket.accept</c>: <see cref="AsgiPart.Text"/> is the subprotocol, if any.</summary>
    Accept,

    /// <summary><c>websocket.send</c>: <see cref="AsgiPart.Data"/>; <see cref="AsgiPart.Flag"/> when it is text.</summary>
    Send,

    /// <summary><c>websocket.close</c>: <see cref="AsgiPart.Status"/> is the code, <see cref="AsgiPart.Text"/> the reason.</summary>
    Close,

    /// <summary>The app raised, or broke a rule of the spec: <see cref="AsgiPart.Error"/>.</summary>
    Error,

    /// <summary>The app returned.</summary>
    Done,

    /// <summary>The worker died or was stopped while the app ran: <see cref="AsgiPart.Failure"/>.</summary>
    WorkerFailed,
}

/// <summary>One event of an ASGI app; <see cref="Buffer"/> is pooled, given back by <see cref="Release"/>.</summary>
internal readonly record struct AsgiPart(
    AsgiPartKind Kind, int Status = 0, (string Name, string Value)[]? Headers = null, byte[]? Buffer = null, int Length = 0,
    bool Flag = false, string? Text = null, PythonAppException? Error = null, WorkerFailure? Failure = null)
{
    public ReadOnlyMemory<byte> Data => Buffer.AsMemory(0, Length);

    public void Release()
    {
        if (Buffer is not null)
        {
            ArrayPool<byte>.Shared.Return(Buffer);
        }
    }
}

/// <summary>
/// One ASGI request or WebSocket on a Python ASGI server (a worker process, or the host's own interpreter): the app's
/// events as they come, and credit both ways. The app's response runs at most <see cref="WorkerFrames.Window"/>
/// bytes ahead of the client; the request's body or messages at most as far ahead of what the app has read.
/// </summary>
internal sealed class AsgiCall : IWorkerCall
{
    // As for a WSGI call: the request's code runs on the connection's reader thread when an event arrives (it only
    // queues writes to Kestrel and frames to the server, neither of which waits), which saves a thread hop per event.
    private readonly Channel<AsgiPart> _parts = Channel.CreateUnbounded<AsgiPart>(
        new UnboundedChannelOptions { SingleReader = true, AllowSynchronousContinuations = true });

    private readonly WorkerConnection _connection;
    private readonly ILogger _logger;
    private readonly Lock _lock = new();
    private long _unread;
    private long _unacknowledged;
    private TaskCompletionSource? _room;
    private volatile bool _stopped;
    private volatile bool _ended;
    private int _disconnected;

    public AsgiCall(WorkerConnection connection, uint id, string path, ILogger logger)
    {
        _connection = connection;
        Id = id;
        Path = path;
        _logger = logger;
    }

    public uint Id { get; }

    public string Path { get; }

    // An ASGI app waits by design (a long poll, a WebSocket), so a call's age says nothing about a hung worker.
    public bool IsStuck(long now, long limit, bool started) => false;

    public ChannelReader<AsgiPart> Parts => _parts.Reader;

    /// <summary>Request bytes sent to the app that it has not read yet (at most a window's worth, and a piece).</summary>
    public long Unread
    {
        get
        {
            lock (_lock)
            {
                return _unread;
            }
        }
    }

    /// <summary>Response bytes the app has sent that the client has not yet taken (at most a window's worth).</summary>
    public long Unacknowledged => Interlocked.Read(ref _unacknowledged);

    /// <summary>Sends the call's first frame: the scope, in <paramref name="frame"/> after room for the header.</summary>
    public void Start(byte type, byte flags, byte[] frame, int length)
    {
        WorkerFrames.WriteHeader(frame, length, type, flags, Id);
        _connection.Send(frame.AsSpan(0, WorkerFrames.HeaderSize + length));
    }

    public bool OnFrame(byte type, byte flags, ReadOnlySpan<byte> payload)
    {
        switch (type)
        {
            case WorkerFrames.AsgiStart:
                Post(new(AsgiPartKind.Start, Status: BinaryPrimitives.ReadUInt16LittleEndian(payload), Headers: Pairs(payload[2..])));
                return false;
            case WorkerFrames.AsgiResponseBody:
                Interlocked.Add(ref _unacknowledged, payload.Length);
                Post(Copy(AsgiPartKind.Body, payload, (flags & WorkerFrames.MoreFlag) != 0));
                return false;
            case WorkerFrames.WsAccept:
                var length = BinaryPrimitives.ReadInt32LittleEndian(payload);
                var subprotocol = Encoding.UTF8.GetString(payload.Slice(4, length));
                Post(new(AsgiPartKind.Accept, Headers: Pairs(payload[(4 + length)..]), Text: subprotocol.Length == 0 ? null : subprotocol));
                return false;
            case WorkerFrames.WsSend:
                Post(Copy(AsgiPartKind.Send, payload, (flags & WorkerFrames.TextFlag) != 0));
                return false;
            case WorkerFrames.WsClose:
                Post(new(AsgiPartKind.Close, Status: BinaryPrimitives.ReadUInt16LittleEndian(payload), Text: Encoding.UTF8.GetString(payload[2..])));
                return false;
            case WorkerFrames.Taken:
                Taken(BinaryPrimitives.ReadInt32LittleEndian(payload));
                return false;
            case WorkerFrames.Error:
                var fields = Encoding.UTF8.GetString(payload).Split('\0', 3);
                var error = new PythonAppException(fields[0], fields[1], fields.Length > 2 ? fields[2] : "");
                if (!Post(new(AsgiPartKind.Error, Error: error)))
                {
                    LogAfterRequest(error);
                }

                return false;
            case WorkerFrames.DoneApp:
                _ended = true;
                Post(new(AsgiPartKind.Done));
                return true;
            default:
                throw new InvalidDataException($"The Python ASGI server sent a frame of type {type} for request {Id}.");
        }
    }

    private static AsgiPart Copy(AsgiPartKind kind, ReadOnlySpan<byte> payload, bool flag)
    {
        var buffer = ArrayPool<byte>.Shared.Rent(Math.Max(payload.Length, 1));
        payload.CopyTo(buffer);
        return new(kind, Buffer: buffer, Length: payload.Length, Flag: flag);
    }

    // Header names and values as the app gave them, NUL-separated, each preceded by a NUL: bytes, taken as latin-1.
    private static (string Name, string Value)[] Pairs(ReadOnlySpan<byte> block)
    {
        if (block.IsEmpty)
        {
            return [];
        }

        var fields = Encoding.Latin1.GetString(block[1..]).Split('\0');
        var pairs = new (string, string)[fields.Length / 2];
        for (var i = 0; i < pairs.Length; i++)
        {
            pairs[i] = (fields[2 * i], fields[(2 * i) + 1]);
        }

        return pairs;
    }

    // False when nobody reads the call's events any more.
    private bool Post(AsgiPart part)
    {
        if (_stopped || !_parts.Writer.TryWrite(part))
        {
            part.Release();
            return false;
        }

        return true;
    }

    // The request was over (a background task failed, the app raised after its last byte or after the client left):
    // nobody reads this call's events any more, but the failure is still the app's to hear about.
    private void LogAfterRequest(PythonAppException error) => _logger.AsgiAppFailedAfterResponse(Path, error);

    /// <summary>
    /// Sends request bytes (a piece of the body, or a WebSocket message) once the app has read all but a window's
    /// worth of what was sent before: a client that uploads faster than the app reads waits in Kestrel, not in memory.
    /// </summary>
    public async ValueTask SendAsync(byte type, byte flags, ReadOnlyMemory<byte> data, CancellationToken cancellationToken)
    {
        while (true)
        {
            Task room;
            lock (_lock)
            {
                if (_ended || _stopped)
                {
                    // The app returned: nobody will read it.
                    return;
                }

                if (_unread < WorkerFrames.Window)
                {
                    _unread += data.Length;
                    break;
                }

                room = (_room ??= new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously)).Task;
            }

            await room.WaitAsync(cancellationToken).ConfigureAwait(false);
        }

        var frame = ArrayPool<byte>.Shared.Rent(WorkerFrames.HeaderSize + data.Length);
        try
        {
            WorkerFrames.WriteHeader(frame, data.Length, type, flags, Id);
            data.Span.CopyTo(frame.AsSpan(WorkerFrames.HeaderSize));
            _connection.Send(frame.AsSpan(0, WorkerFrames.HeaderSize + data.Length));
        }
        finally
        {
            ArrayPool<byte>.Shared.Return(frame);
        }
    }

    private void Taken(int bytes)
    {
        TaskCompletionSource? room = null;
        lock (_lock)
        {
            _unread -= bytes;
            if (_unread < WorkerFrames.Window)
            {
                (room, _room) = (_room, null);
            }
        }

        room?.TrySetResult();
    }

    /// <summary>The request sent <paramref name="bytes"/> of the response on: the app may send as many more.</summary>
    public void Credit(int bytes)
    {
        if (bytes > 0 && !_ended)
        {
            Interlocked.Add(ref _unacknowledged, -bytes);
            _connection.Send(WorkerFrames.BuildCredit(Id, bytes));
        }
    }

    /// <summary>Tells the app the client is gone (<c>http.disconnect</c>), once, unless the app has returned.</summary>
    public void Disconnect()
    {
        if (!_ended && Interlocked.Exchange(ref _disconnected, 1) == 0)
        {
            _connection.Send(WorkerFrames.Build(WorkerFrames.AsgiDisconnect, Id));
        }
    }

    /// <summary>Tells a WebSocket app the client closed the socket (or went), with the close code.</summary>
    public void WebSocketDisconnect(int code)
    {
        if (!_ended && Interlocked.Exchange(ref _disconnected, 1) == 0)
        {
            Span<byte> payload = stackalloc byte[2];
            BinaryPrimitives.WriteUInt16LittleEndian(payload, (ushort)code);
            _connection.Send(WorkerFrames.Build(WorkerFrames.WsDisconnect, Id, payload));
        }
    }

    public void Complete()
    {
        _parts.Writer.TryComplete();
        Release();
    }

    /// <summary>The worker was gone before the request's first frame reached it: another worker may take it.</summary>
    public bool NeverSent { get; private set; }

    public void Fail(WorkerFailure failure)
    {
        _ended = true;
        NeverSent = failure.Retry;

        // Once sent, a request's body may already be in the app: such a request is never sent to a second worker.
        Post(new(AsgiPartKind.WorkerFailed, Failure: failure.Retry ? failure with { StatusCode = 502 } : failure));
        _parts.Writer.TryComplete();
        Release();
    }

    // Nothing more goes to the server: a sender waiting for room gives up.
    private void Release()
    {
        TaskCompletionSource? room;
        lock (_lock)
        {
            (room, _room) = (_room, null);
        }

        room?.TrySetResult();
    }

    /// <summary>The request stops reading the app's events: what is still buffered is given back.</summary>
    public void Stop()
    {
        _stopped = true;

        // Completed first, so that a part posted from now on is refused (and an error in it logged) rather than left
        // unread; one posted before is logged here.
        _parts.Writer.TryComplete();
        while (_parts.Reader.TryRead(out var part))
        {
            if (part.Error is { } error)
            {
                LogAfterRequest(error);
            }

            part.Release();
        }

        Release();
    }
}
