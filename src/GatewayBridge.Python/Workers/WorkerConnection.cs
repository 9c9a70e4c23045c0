using System.Buffers.Binary;
using System.Net.Sockets;

namespace GatewayBridge.Python;

/// <summary>
/// The host's end of one worker's socket. A thread of its own reads it with blocking calls and hands each frame,
/// whole, to the worker's handler, on that thread; frames from any thread are sent at once, one at a time.
/// </summary>
/// <remarks>
/// Measured before choosing (test/GatewayBridge.Benchmarks, <c>transport</c>): for one request at a time, a blocking
/// reader costs the host about 18 µs of CPU per round trip against 27 µs for .NET's asynchronous socket calls (whose
/// completions hop from the epoll thread to the thread pool), and 8 µs against 20 µs with two requests in flight.
/// Sends rarely wait: a worker is sent only what fits its threads and one request ahead each, and the send buffer
/// is made large enough for that.
/// </remarks>
internal sealed class WorkerConnection : IDisposable
{
    private const int SendBuffer = 4 * 1024 * 1024;

    private readonly Socket _socket;
    private readonly Lock _sendLock = new();
    private volatile bool _broken;

    public WorkerConnection(Socket socket)
    {
        _socket = socket;
        _socket.Blocking = true;
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

            try
            {
                while (!frame.IsEmpty)
                {
                    frame = frame[_socket.Send(frame)..];
                }
            }
            catch (Exception ex) when (ex is SocketException or ObjectDisposedException)
            {
                _broken = true;
            }
        }
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
                    if (length is < 0 or > WorkerFrames.MaxPayload || type is 0 or > WorkerFrames.Goodbye)
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
        _broken = true;
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

/// <summary>Handles one frame from a worker; the payload is valid only during the call.</summary>
internal delegate void FrameHandler(byte type, byte flags, uint requestId, ReadOnlySpan<byte> payload);
