using System.Buffers.Binary;
using System.Net.Sockets;
using System.Runtime.InteropServices;

namespace GatewayBridge.Python;

/// <summary>
/// The host's end of one worker's socket. A thread of its own reads it with blocking calls and hands each frame,
/// whole, to the worker's handler, on that thread. Frames from any thread are sent at once, in order, and no sender
/// ever waits for the worker: what the socket cannot take now waits in a backlog that a writer thread sends.
/// </summary>
/// <remarks>
/// Measured before choosing (test/GatewayBridge.Benchmarks, <c>transport</c>): for one request at a time, a blocking
/// reader costs the host about 18 µs of CPU per round trip against 27 µs for .NET's asynchronous socket calls (whose
/// completions hop from the epoll thread to the thread pool), and 8 µs against 20 µs with two requests in flight.
/// Sends are non-blocking system calls on the caller's thread; a sender that waited for a worker busy sending its
/// own frames (while this reader, the one sending, stopped reading them) would deadlock the two.
/// </remarks>
internal sealed class WorkerConnection : IDisposable
{
    private const int SendBuffer = 4 * 1024 * 1024;
    private const int MsgDontWait = 0x40;
    private const int MsgNoSignal = 0x4000;
    private const int EAgain = 11;
    private const int EIntr = 4;

    private readonly Socket _socket;
    private readonly object _sendLock = new();
    private readonly Queue<byte[]> _backlog = new();
    private Thread? _writer;
    private volatile bool _broken;
    private bool _disposed;

    public WorkerConnection(Socket socket)
    {
        _socket = socket;
        _socket.Blocking = true;

        // As large as the kernel allows (net.core.wmem_max caps it): fewer frames wait in the backlog.
        _socket.SendBufferSize = SendBuffer;
    }

    /// <summary>Sends a frame; frames sent after the connection broke are dropped (the worker's exit is what counts).</summary>
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

            // The worker is not reading now: the rest waits, and everything after it, so that frames keep their order.
            _backlog.Enqueue(frame.ToArray());
            if (_writer is null)
            {
                _writer = new Thread(WriteBacklog) { IsBackground = true, Name = "GatewayBridge worker writer" };
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
            var sent = SendNoWait(_socket.SafeHandle, ref MemoryMarshal.GetReference(frame[total..]), frame.Length - total, MsgDontWait | MsgNoSignal);
            if (sent >= 0)
            {
                total += (int)sent;
                continue;
            }

            var error = Marshal.GetLastPInvokeError();
            if (error == EIntr)
            {
                continue;
            }

            return error == EAgain ? total : -1;
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
    /// Reads frames on a thread of its own until the worker closes the connection, handing each to
    /// <paramref name="handle"/> (type, flags, request id, payload; the payload is valid only during the call). Then
    /// <paramref name="closed"/> is called, with the error if it ended in one (an <see cref="InvalidDataException"/>
    /// for bytes that are not frames).
    /// </summary>
    public void StartReading(FrameHandler handle, Action<Exception?> closed, string name)
    {
        var thread = new Thread(() => closed(Read(handle))) { IsBackground = true, Name = name };
        thread.Start();
    }

    private Exception? Read(FrameHandler handle)
    {
        var buffer = new byte[64 * 1024];
        var start = 0;
        var end = 0;
        try
        {
            while (true)
            {
                while (end - start >= WorkerFrames.HeaderSize)
                {
                    var header = buffer.AsSpan(start, WorkerFrames.HeaderSize);
                    var length = BinaryPrimitives.ReadInt32LittleEndian(header);
                    var type = header[4];
                    if (length is < 0 or > WorkerFrames.MaxPayload || !WorkerFrames.IsFromWorker(type))
                    {
                        throw new InvalidDataException($"The worker sent bytes that are not a frame (type {type}, length {length}).");
                    }

                    var total = WorkerFrames.HeaderSize + length;
                    if (end - start < total)
                    {
                        if (total > buffer.Length - start)
                        {
                            // Room for the whole frame: move what is buffered to the front, or grow.
                            var larger = total > buffer.Length ? new byte[Math.Max(total, 2 * buffer.Length)] : buffer;
                            Buffer.BlockCopy(buffer, start, larger, 0, end - start);
                            (buffer, end, start) = (larger, end - start, 0);
                        }

                        break;
                    }

                    handle(type, header[5], BinaryPrimitives.ReadUInt32LittleEndian(header[6..]), buffer.AsSpan(start + WorkerFrames.HeaderSize, length));
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

                var read = _socket.Receive(buffer, end, buffer.Length - end, SocketFlags.None);
                if (read == 0)
                {
                    return start == end ? null : new InvalidDataException($"The worker closed its connection in the middle of a frame ({end - start} bytes left).");
                }

                end += read;
            }
        }
        catch (Exception ex)
        {
            // Whatever ended the reading (the socket, bytes that are not frames, a frame the handler refused) ends the
            // worker; an exception leaving this thread would end the host.
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

    [DllImport("libc", EntryPoint = "send", SetLastError = true)]
    [DefaultDllImportSearchPaths(DllImportSearchPath.SafeDirectories)]
    private static extern nint SendNoWait(SafeHandle socket, ref byte buffer, nint length, int flags);
}

/// <summary>Handles one frame from a worker; the payload is valid only during the call.</summary>
internal delegate void FrameHandler(byte type, byte flags, uint requestId, ReadOnlySpan<byte> payload);
