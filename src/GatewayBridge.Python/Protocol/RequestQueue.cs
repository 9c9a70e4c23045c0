using System.Buffers.Binary;
using System.Net.Sockets;
using System.Runtime.InteropServices;

namespace GatewayBridge.Python;

/// <summary>
/// The requests sent to a WSGI worker that none of its threads has taken yet (docs/worker-protocol.md, "The request
/// queue"): a Unix <c>SOCK_SEQPACKET</c> socket pair, one Request frame per message. A worker thread takes the next
/// message only when it is free, as a gunicorn sync worker accepts a connection only when it is free. The host keeps
/// the worker's end too, so it can take back a request the worker has not taken: for a worker that is free while this
/// one is busy, for a client that left, for a worker that retires or dies. The kernel gives each message to exactly one
/// reader, so a request is taken by the worker or taken back, never both, and nothing in Python needs an atomic.
/// </summary>
internal sealed class RequestQueue : IDisposable
{
    private const int SendBuffer = 4 * 1024 * 1024;

    private readonly Socket _host;
    private readonly Socket _worker;
    private readonly Lock _takeBackLock = new();
    private bool _disposed;

    public RequestQueue()
    {
        var (host, worker) = UnixSockets.Pair(SocketType.Seqpacket);
        (_host, _worker) = (UnixSockets.Own(host), UnixSockets.Own(worker));

        // A message must fit the socket's send buffer; what the kernel allows (net.core.wmem_max) is read back, and a
        // quarter of it, at most 256 KiB, is the largest message, so several wait at once. Each worker thread keeps a
        // buffer that large to read one into; a larger request goes with its body in a file.
        _host.SendBufferSize = SendBuffer;
        MessageLimit = Math.Clamp(_host.SendBufferSize / 4, 64 * 1024, 256 * 1024);
    }

    /// <summary>The largest Request frame a message holds.</summary>
    public int MessageLimit { get; }

    /// <summary>The worker's end, passed to the worker with its Config frame.</summary>
    public SafeHandle WorkerEnd => _worker.SafeHandle;

    /// <summary>Queues a Request frame; false if the queue is full (the worker takes nothing now) or gone.</summary>
    public bool TrySend(ReadOnlySpan<byte> frame)
    {
        if (frame.Length > MessageLimit)
        {
            throw new ArgumentException($"A Request frame of {frame.Length} bytes; a message holds at most {MessageLimit}.", nameof(frame));
        }

        try
        {
            return UnixSockets.SendNoWait(_host, frame, out _) == frame.Length;
        }
        catch (ObjectDisposedException)
        {
            // Its worker is gone: the request goes to another.
            return false;
        }
    }

    /// <summary>Takes back up to <paramref name="most"/> requests the worker has not taken, oldest first: their call ids.</summary>
    public List<uint> TakeBack(int most = int.MaxValue)
    {
        var ids = new List<uint>();
        Span<byte> header = stackalloc byte[WorkerProtocol.HeaderSize];
        lock (_takeBackLock)
        {
            // A message is read whole or not at all; reading only its header drops the rest, which is what taking back is.
            while (!_disposed && ids.Count < most && UnixSockets.ReceiveNoWait(_worker, header) == header.Length)
            {
                ids.Add(BinaryPrimitives.ReadUInt32LittleEndian(header[6..]));
            }
        }

        return ids;
    }

    public void Dispose()
    {
        lock (_takeBackLock)
        {
            _disposed = true;
            _host.Dispose();
            _worker.Dispose();
        }
    }
}
