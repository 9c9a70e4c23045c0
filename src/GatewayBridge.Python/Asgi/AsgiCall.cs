using System.Buffers;
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

    /// <summary>The server died or was stopped while the app ran: <see cref="AsgiPart.Failure"/>.</summary>
    TransportFailed,
}

/// <summary>One event of an ASGI app; <see cref="Buffer"/> is pooled, given back by <see cref="Release"/>.</summary>
internal readonly record struct AsgiPart(
    AsgiPartKind Kind, int Status = 0, (string Name, string Value)[]? Headers = null, byte[]? Buffer = null, int Length = 0,
    bool Flag = false, string? Text = null, PythonAppException? Error = null, TransportFailure? Failure = null)
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
/// events as they come, and credit both ways. The app's response runs at most <see cref="WorkerProtocol.Window"/>
/// bytes ahead of the client; the request's body or messages at most as far ahead of what the app has read.
/// </summary>
internal sealed class AsgiCall : FramedCall
{
    // As for a WSGI call: the request's code runs on the connection's reader thread when an event arrives (it only
    // queues writes to Kestrel and frames to the server, neither of which waits), which saves a thread hop per event.
    private readonly Channel<AsgiPart> _parts = Channel.CreateUnbounded<AsgiPart>(
        new UnboundedChannelOptions { SingleReader = true, AllowSynchronousContinuations = true });

    private readonly ILogger _logger;
    private readonly bool _websocket;
    private readonly Lock _lock = new();
    private long _unread;
    private long _unacknowledged;
    private TaskCompletionSource? _room;
    private volatile bool _stopped;
    private volatile bool _ended;
    private int _disconnected;

    public AsgiCall(FramedConnection connection, uint id, string path, bool websocket, ILogger logger)
        : base(connection, id, path)
    {
        _websocket = websocket;
        _logger = logger;
    }

    // (An ASGI app waits by design, a long poll or a WebSocket, so a call's age says nothing about a hung server: IsStuck
    // stays false.)
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

    public override bool OnFrame(FrameType type, byte flags, ReadOnlySpan<byte> payload)
    {
        switch (type)
        {
            case FrameType.AsgiStart:
                var (status, headers) = FrameReader.ReadAsgiStart(payload);
                Post(new(AsgiPartKind.Start, Status: status, Headers: headers));
                return false;
            case FrameType.AsgiResponseBody:
                Interlocked.Add(ref _unacknowledged, payload.Length);
                Post(Copy(AsgiPartKind.Body, payload, (flags & FrameFlags.More) != 0));
                return false;
            case FrameType.WsAccept:
                var (subprotocol, acceptHeaders) = FrameReader.ReadWsAccept(payload);
                Post(new(AsgiPartKind.Accept, Headers: acceptHeaders, Text: subprotocol));
                return false;
            case FrameType.WsSend:
                Post(Copy(AsgiPartKind.Send, payload, (flags & FrameFlags.Text) != 0));
                return false;
            case FrameType.WsClose:
                var (code, reason) = FrameReader.ReadClose(payload);
                Post(new(AsgiPartKind.Close, Status: code, Text: reason));
                return false;
            case FrameType.Taken:
                Taken(FrameReader.ReadCount(payload));
                return false;
            case FrameType.Error:
                var (errorType, message, traceback) = FrameReader.ReadError(payload);
                var error = new PythonAppException(errorType, message, traceback);
                if (!Post(new(AsgiPartKind.Error, Error: error)))
                {
                    LogAfterRequest(error);
                }

                return false;
            case FrameType.DoneApp:
                _ended = true;
                Post(new(AsgiPartKind.Done));
                return true;
            default:
                throw new InvalidDataException($"a {type} frame for ASGI call {Id}");
        }
    }

    private static AsgiPart Copy(AsgiPartKind kind, ReadOnlySpan<byte> payload, bool flag)
    {
        var buffer = ArrayPool<byte>.Shared.Rent(Math.Max(payload.Length, 1));
        payload.CopyTo(buffer);
        return new(kind, Buffer: buffer, Length: payload.Length, Flag: flag);
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
    public async ValueTask SendAsync(FrameType type, byte flags, ReadOnlyMemory<byte> data, CancellationToken cancellationToken)
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

                if (_unread < WorkerProtocol.Window)
                {
                    _unread += data.Length;
                    break;
                }

                room = (_room ??= new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously)).Task;
            }

            await room.WaitAsync(cancellationToken).ConfigureAwait(false);
        }

        Connection.Send(FrameWriter.Frame(type, Id, data.Span, flags));
    }

    private void Taken(int bytes)
    {
        TaskCompletionSource? room = null;
        lock (_lock)
        {
            _unread -= bytes;
            if (_unread < WorkerProtocol.Window)
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
            Connection.Send(FrameWriter.Count(FrameType.Credit, Id, bytes));
        }
    }

    /// <summary>Tells the app the client is gone (<c>http.disconnect</c>), once, unless the app has returned.</summary>
    public void Disconnect()
    {
        if (!_ended && Interlocked.Exchange(ref _disconnected, 1) == 0)
        {
            Connection.Send(FrameWriter.Frame(FrameType.AsgiDisconnect, Id));
        }
    }

    /// <summary>Tells a WebSocket app the client closed the socket (or went), with the close code.</summary>
    public void WebSocketDisconnect(int code)
    {
        if (!_ended && Interlocked.Exchange(ref _disconnected, 1) == 0)
        {
            Connection.Send(FrameWriter.Close(FrameType.WsDisconnect, Id, code));
        }
    }

    public override void Complete()
    {
        _parts.Writer.TryComplete();
        Release();
    }

    /// <summary>The worker was gone before the request's first frame reached it: another worker may take it.</summary>
    public bool NeverSent { get; private set; }

    public override void Fail(TransportFailure failure)
    {
        _ended = true;
        NeverSent = failure.NeverSent;
        Post(new(AsgiPartKind.TransportFailed, Failure: failure));
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

    public override void Abandon()
    {
        if (_websocket)
        {
            WebSocketDisconnect(1006);
        }
        else
        {
            Disconnect();
        }

        Stop();
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
