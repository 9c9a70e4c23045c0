using System.Collections.Concurrent;
using System.Net.Sockets;
using System.Runtime.InteropServices;

namespace GatewayBridge.Python;

/// <summary>
/// The host's end of a connection to a Python server (a worker process, or the ASGI loop in the host's interpreter), and
/// the calls on it: it gives each call its id, sends the call's first frame, routes every frame the server sends to the
/// call its id names (or to the owner, for the connection's own frames), and fails the calls still open when the owner
/// says the server is gone. One rule for ids (docs/worker-protocol.md): a frame for an id never opened is a protocol
/// error, which ends the connection; a late frame for a call that has ended is ignored.
/// </summary>
/// <remarks>
/// Frames are read with asynchronous receives, several per read: a blocking reader thread per connection (the first
/// design) cost a wake-up of its own per request, and under load the thread-pool hop after it. python-load.sh, bare
/// hello on 2 workers: 96 µs of CPU per request with the blocking reader, 75-80 µs with this one, 56-58 µs once socket
/// completions run inline (what <c>serve</c> sets: docs/operations.md). Sends are non-blocking system calls on the
/// caller's thread; a sender that waited for a worker busy sending its own frames (while this reader, the one sending,
/// stopped reading them) would deadlock the two.
/// </remarks>
internal sealed class FramedConnection : IDisposable
{
    private const int SendBuffer = 4 * 1024 * 1024;

    private readonly Socket _socket;
    private readonly object _sendLock = new();
    private readonly Queue<byte[]> _backlog = new();
    private readonly ConcurrentDictionary<uint, FramedCall> _calls = new();
    private readonly Lock _openLock = new();
    private Thread? _writer;
    private volatile bool _broken;
    private bool _disposed;
    private uint _lastId;
    private TransportFailure? _failed;

    public FramedConnection(Socket socket)
    {
        _socket = socket;
        _socket.Blocking = true;

        // As large as the kernel allows (net.core.wmem_max caps it): fewer frames wait in the backlog.
        _socket.SendBufferSize = SendBuffer;
    }

    /// <summary>The calls open on the connection.</summary>
    public ICollection<FramedCall> Calls => _calls.Values;

    /// <summary>How many calls are open on the connection.</summary>
    public int OpenCalls => _calls.Count;

    /// <summary>
    /// Opens a call: <paramref name="create"/> makes it with its id, and <paramref name="send"/> sends its first frame,
    /// in id order with every other call's (the server takes them in that order). Once the server is gone
    /// (<see cref="FailAll"/>), the call fails at once, as never sent.
    /// </summary>
    public T Open<T>(Func<uint, T> create, Action<T> send)
        where T : FramedCall
    {
        T call;
        TransportFailure? failed;
        lock (_openLock)
        {
            call = create(++_lastId);
            failed = _failed;
            if (failed is null)
            {
                _calls[call.Id] = call;
                try
                {
                    send(call);
                }
                catch
                {
                    _calls.TryRemove(call.Id, out _);
                    throw;
                }
            }
        }

        if (failed is not null)
        {
            call.Fail(failed with { NeverSent = true });
            call.Span?.Stop();
        }

        return call;
    }

    /// <summary>
    /// The server is gone: every call still open fails with <paramref name="failure"/> (as never sent where
    /// <paramref name="neverStarted"/> says its server never started it), and so does every call opened from now on.
    /// </summary>
    public void FailAll(TransportFailure failure, Func<FramedCall, bool>? neverStarted = null)
    {
        lock (_openLock)
        {
            _failed ??= failure;
        }

        foreach (var id in _calls.Keys)
        {
            if (_calls.TryRemove(id, out var call))
            {
                call.Fail(neverStarted?.Invoke(call) == true ? failure with { NeverSent = true } : failure);
                call.Span?.Stop();
            }
        }
    }

    /// <summary>Fails the call of <paramref name="id"/> as never sent (it was taken back from its server), unless it has ended.</summary>
    public void FailNeverSent(uint id, TransportFailure failure)
    {
        if (_calls.TryRemove(id, out var call))
        {
            call.Fail(failure with { NeverSent = true });
            call.Span?.Stop();
        }
    }

    /// <summary>Fails one call (its server ran it past the timeout), unless it has ended.</summary>
    public bool Fail(FramedCall call, TransportFailure failure)
    {
        if (!_calls.TryRemove(call.Id, out _))
        {
            return false;
        }

        call.Fail(failure);

        call.Span?.Stop();
        return true;
    }

    /// <summary>
    /// Sends a frame with copies of <paramref name="descriptors"/> for the server (a worker's request queue goes with
    /// its Config; a new worker's stdout and stderr with a template's Fork). Not while a backlog waits: the frame would
    /// pass it.
    /// </summary>
    public void SendWithDescriptors(FrameBuilder frame, params ReadOnlySpan<SafeHandle> descriptors)
    {
        using (frame)
        {
            lock (_sendLock)
            {
                if (_backlog.Count > 0)
                {
                    throw new InvalidOperationException("A frame with descriptors cannot pass frames still waiting to be sent.");
                }

                UnixSockets.SendWithDescriptors(_socket, frame.Span, descriptors);
            }
        }
    }

    /// <summary>Sends a frame built with <see cref="FrameWriter"/>, and gives its buffer back.</summary>
    public void Send(FrameBuilder frame)
    {
        using (frame)
        {
            Send(frame.Span);
        }
    }

    /// <summary>Sends a frame; frames sent after the connection broke are dropped (the server's end is what counts).</summary>
    public void Send(ReadOnlySpan<byte> frame)
    {
        lock (_sendLock)
        {
            if (_broken)
            {
                return;
            }

            if (_backlog.Count == 0)
            {
                var sent = TrySend(frame);
                if (sent < 0)
                {
                    Break();
                    return;
                }

                if (sent == frame.Length)
                {
                    return;
                }

                frame = frame[sent..];
            }

            // The server is not reading now: the rest waits, and everything after it, so that frames keep their order.
            _backlog.Enqueue(frame.ToArray());
            if (_writer is null)
            {
                _writer = new Thread(WriteBacklog) { IsBackground = true, Name = "GatewayBridge frame writer" };
                _writer.Start();
            }

            Monitor.Pulse(_sendLock);
        }
    }

    // Sends what the socket takes now without waiting; -1 when the connection is broken.
    private int TrySend(ReadOnlySpan<byte> frame)
    {
        var total = 0;
        while (total < frame.Length)
        {
            var sent = UnixSockets.SendNoWait(_socket, frame[total..], out var error);
            if (sent < 0)
            {
                return error == UnixSockets.EAgain ? total : -1;
            }

            total += sent;
        }

        return total;
    }

    private void WriteBacklog()
    {
        while (true)
        {
            byte[] next;
            lock (_sendLock)
            {
                while (_backlog.Count == 0 && !_broken)
                {
                    Monitor.Wait(_sendLock);
                }

                if (_broken)
                {
                    return;
                }

                // Left in the backlog while it is sent, so that new frames queue behind it.
                next = _backlog.Peek();
            }

            try
            {
                var sent = 0;
                while (sent < next.Length)
                {
                    sent += _socket.Send(next.AsSpan(sent));
                }
            }
            catch (Exception ex) when (ex is SocketException or ObjectDisposedException)
            {
                lock (_sendLock)
                {
                    Break();
                }

                return;
            }

            lock (_sendLock)
            {
                _backlog.Dequeue();
            }
        }
    }

    // Under the send lock.
    private void Break()
    {
        _broken = true;
        _backlog.Clear();
        Monitor.PulseAll(_sendLock);
    }

    /// <summary>
    /// Reads frames until the server closes the connection: each call's frames go to the call
    /// (and <paramref name="ended"/> hears of a call whose last frame came), the connection's own frames (Ready, Log,
    /// Retire, ...) to <paramref name="control"/>; the payload is valid only during the call. Then
    /// <paramref name="closed"/> is called, with the error if it ended in one (an <see cref="InvalidDataException"/> for
    /// bytes that are not the protocol).
    /// </summary>
    public void StartReading(FrameHandler control, Action<FramedCall> ended, Action<Exception?> closed) =>
        _ = Task.Run(async () => closed(await ReadFramesAsync(control, ended).ConfigureAwait(false)));

    private void Route(FrameType type, byte flags, uint id, ReadOnlySpan<byte> payload, FrameHandler control, Action<FramedCall> ended)
    {
        if (id > Volatile.Read(ref _lastId) || (id == 0 && WorkerProtocol.IsCallFrame(type)))
        {
            throw new InvalidDataException($"a {type} frame for call {id}, which was never opened");
        }

        if (!WorkerProtocol.IsCallFrame(type))
        {
            control(type, flags, id, payload);
        }
        else if (_calls.TryGetValue(id, out var call) && call.OnFrame(type, flags, payload) && _calls.TryRemove(id, out _))
        {
            call.Complete();
            call.Span?.Stop();
            ended(call);
        }
    }

    private async Task<Exception?> ReadFramesAsync(FrameHandler control, Action<FramedCall> ended)
    {
        var buffer = new byte[64 * 1024];
        var start = 0;
        var end = 0;
        try
        {
            while (true)
            {
                while (end - start >= WorkerProtocol.HeaderSize)
                {
                    var (type, flags, id, length) = FrameReader.ReadHeader(buffer.AsSpan(start, WorkerProtocol.HeaderSize), fromServer: true);
                    var total = WorkerProtocol.HeaderSize + length;
                    if (end - start < total)
                    {
                        if (total > buffer.Length - start)
                        {
                            var larger = total > buffer.Length ? new byte[Math.Max(total, 2 * buffer.Length)] : buffer;
                            Buffer.BlockCopy(buffer, start, larger, 0, end - start);
                            (buffer, end, start) = (larger, end - start, 0);
                        }

                        break;
                    }

                    Route(type, flags, id, buffer.AsSpan(start + WorkerProtocol.HeaderSize, length), control, ended);
                    start += total;
                }

                if (start == end)
                {
                    start = end = 0;
                }
                else if (end == buffer.Length)
                {
                    Buffer.BlockCopy(buffer, start, buffer, 0, end - start);
                    (end, start) = (end - start, 0);
                }

                var read = await _socket.ReceiveAsync(buffer.AsMemory(end), SocketFlags.None).ConfigureAwait(false);
                if (read == 0)
                {
                    return start == end ? null : new InvalidDataException($"the connection closed in the middle of a frame ({end - start} bytes of it)");
                }

                end += read;
            }
        }
        catch (Exception ex)
        {
            // Whatever ended the reading (the socket, bytes that are not the protocol, a frame a handler refused) ends the
            // connection.
            return ex;
        }
    }

    public void Dispose()
    {
        lock (_sendLock)
        {
            if (_disposed)
            {
                return;
            }

            _disposed = true;
            Break();
        }

        try
        {
            _socket.Shutdown(SocketShutdown.Both);
        }
        catch (SocketException)
        {
        }

        _socket.Dispose();
    }
}

/// <summary>Handles one frame from a Python server; the payload is valid only during the call.</summary>
internal delegate void FrameHandler(FrameType type, byte flags, uint callId, ReadOnlySpan<byte> payload);
