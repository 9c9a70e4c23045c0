using System.Buffers.Binary;

namespace GatewayBridge.Python;

/// <summary>
/// The frames the host and its Python worker processes exchange over their Unix socket, as
/// <c>gatewaybridge_frames.py</c> describes them: a 10-byte header (payload length, type, flags, request id; little
/// endian) and a payload.
/// </summary>
internal static class WorkerFrames
{
    public const int HeaderSize = 10;

    /// <summary>Body bytes a response may have on their way before the host grants more (the worker's WINDOW).</summary>
    public const int Window = 256 * 1024;

    /// <summary>The largest frame a worker sends or the host accepts: a whole request (environ and a body kept in memory) fits.</summary>
    public const int MaxPayload = 16 * 1024 * 1024;

    // Worker to host.
    public const byte Hello = 1;
    public const byte Ready = 2;
    public const byte Failed = 3;
    public const byte Response = 4;
    public const byte File = 5;
    public const byte Error = 6;
    public const byte CloseFailed = 7;
    public const byte Log = 8;
    public const byte Retire = 9;
    public const byte Goodbye = 10;
    public const byte Taken = 11;
    public const byte DoneApp = 12;

    // ASGI, host to worker (gatewaybridge_asgi.py).
    public const byte AsgiHttp = 30;
    public const byte AsgiBody = 31;
    public const byte AsgiDisconnect = 32;
    public const byte WsConnect = 33;
    public const byte WsMessage = 34;
    public const byte WsDisconnect = 35;

    // ASGI, worker to host.
    public const byte AsgiStart = 40;
    public const byte AsgiResponseBody = 41;
    public const byte WsAccept = 42;
    public const byte WsSend = 43;
    public const byte WsClose = 44;

    // ASGI flags: more body follows; a text message; a request without a body (on ASGI_HTTP).
    public const byte MoreFlag = 1;
    public const byte TextFlag = 1;
    public const byte EmptyFlag = 2;

    // Host to worker.
    public const byte Config = 20;
    public const byte Request = 21;
    public const byte Credit = 22;
    public const byte Cancel = 23;
    public const byte Done = 24;
    public const byte Stop = 25;

    // RESPONSE and FILE flags.
    public const byte HeadFlag = 1;
    public const byte LengthFlag = 2;
    public const byte EndFlag = 4;
    public const byte WholeFlag = 8;
    public const byte DescriptorFlag = 16;

    public static void WriteHeader(Span<byte> destination, int payloadLength, byte type, byte flags, uint requestId)
    {
        BinaryPrimitives.WriteInt32LittleEndian(destination, payloadLength);
        destination[4] = type;
        destination[5] = flags;
        BinaryPrimitives.WriteUInt32LittleEndian(destination[6..], requestId);
    }

    /// <summary>A frame with no payload, or a small one, as one array.</summary>
    public static byte[] Build(byte type, uint requestId, ReadOnlySpan<byte> payload = default, byte flags = 0)
    {
        var frame = new byte[HeaderSize + payload.Length];
        WriteHeader(frame, payload.Length, type, flags, requestId);
        payload.CopyTo(frame.AsSpan(HeaderSize));
        return frame;
    }

    /// <summary>Whether <paramref name="type"/> is a frame a worker may send.</summary>
    public static bool IsFromWorker(byte type) => type is >= Hello and <= DoneApp or >= AsgiStart and <= WsClose;

    public static byte[] BuildCredit(uint requestId, int bytes)
    {
        Span<byte> payload = stackalloc byte[4];
        BinaryPrimitives.WriteInt32LittleEndian(payload, bytes);
        return Build(Credit, requestId, payload);
    }
}
