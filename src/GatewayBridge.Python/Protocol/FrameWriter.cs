using System.Buffers;
using System.Buffers.Binary;
using System.Text;

namespace GatewayBridge.Python;

/// <summary>
/// Builds every frame of the worker protocol, as docs/worker-protocol.md lays out each payload. The host sends the
/// ones from the host; the others are built here too, so that the tests can check Python's side against these layouts.
/// </summary>
internal static class FrameWriter
{
    public static void WriteHeader(Span<byte> destination, int payloadLength, FrameType type, byte flags, uint callId)
    {
        BinaryPrimitives.WriteInt32LittleEndian(destination, payloadLength);
        destination[4] = (byte)type;
        destination[5] = flags;
        BinaryPrimitives.WriteUInt32LittleEndian(destination[6..], callId);
    }

    /// <summary>A frame whose payload is given whole (or empty).</summary>
    public static FrameBuilder Frame(FrameType type, uint callId = 0, ReadOnlySpan<byte> payload = default, byte flags = 0)
    {
        var frame = new FrameBuilder(type, flags, callId, payload.Length);
        frame.Write(payload);
        return frame;
    }

    /// <summary>Credit and Taken: a count of bytes.</summary>
    public static FrameBuilder Count(FrameType type, uint callId, int bytes)
    {
        var frame = new FrameBuilder(type, 0, callId, 4);
        frame.WriteUInt32(bytes);
        return frame;
    }

    /// <summary>Started: when a thread took the request, in CLOCK_MONOTONIC nanoseconds.</summary>
    public static FrameBuilder Started(uint callId, long nanoseconds)
    {
        var frame = new FrameBuilder(FrameType.Started, 0, callId, 8);
        frame.WriteUInt64(nanoseconds);
        return frame;
    }

    /// <summary>Hello: u16 version, u8 secret length, the secret (ASCII), the UTF-8 path of the module that sent it.</summary>
    public static FrameBuilder Hello(string secret, string module, int version = WorkerProtocol.Version)
    {
        var frame = new FrameBuilder(FrameType.Hello, 0, 0);
        frame.WriteUInt16(version);
        frame.WriteByte(checked((byte)secret.Length));
        frame.WriteLatin1(secret);
        frame.WriteUtf8(module);
        return frame;
    }

    /// <summary>Config and Ready: a JSON object, UTF-8.</summary>
    public static FrameBuilder Json(FrameType type, ReadOnlySpan<byte> json) => Frame(type, 0, json);

    /// <summary>Failed and CloseFailed: UTF-8 text.</summary>
    public static FrameBuilder Text(FrameType type, uint callId, string text)
    {
        var frame = new FrameBuilder(type, 0, callId, text.Length);
        frame.WriteUtf8(text);
        return frame;
    }

    /// <summary>
    /// Request: u32 length and the environ (native strings, each char one latin-1 byte, <c>key\0value</c> pairs
    /// NUL-separated), then u8 body kind: 0 none, 1 the body (the rest of the payload, read here from
    /// <paramref name="body"/> from its start), 2 the UTF-8 path of the file it spilled to (the rest). Flag Traced: the
    /// host asks for Started.
    /// </summary>
    public static FrameBuilder Request(uint callId, string environ, Stream? body, string? spilledPath, bool traced = false)
    {
        var length = body is null ? 0 : checked((int)body.Length);
        var frame = new FrameBuilder(FrameType.Request, traced ? FrameFlags.Traced : (byte)0, callId, 5 + environ.Length + length + (spilledPath?.Length ?? 0));
        frame.WriteUInt32(environ.Length);
        frame.WriteLatin1(environ);
        if (spilledPath is not null)
        {
            frame.WriteByte((byte)RequestBodyKind.File);
            frame.WriteUtf8(spilledPath);
        }
        else if (length > 0)
        {
            // A body kept in memory: a copy, not I/O.
            frame.WriteByte((byte)RequestBodyKind.Inline);
            body!.Position = 0;
            body.ReadExactly(frame.Room(length));
        }
        else
        {
            frame.WriteByte((byte)RequestBodyKind.None);
        }

        return frame;
    }

    /// <summary>
    /// Response: with flag Head, u32 length and the UTF-8 head (<c>status\0name\0value...</c>); with flag Length, the
    /// whole body's length (u64); then body bytes.
    /// </summary>
    public static FrameBuilder Response(uint callId, byte flags, string? head, long total, ReadOnlySpan<byte> body)
    {
        var frame = new FrameBuilder(FrameType.Response, flags, callId, (head?.Length ?? 0) + 12 + body.Length);
        WriteHead(ref frame, flags, head);
        if ((flags & FrameFlags.Length) != 0)
        {
            frame.WriteUInt64(total);
        }

        frame.Write(body);
        return frame;
    }

    /// <summary>File: the head as in Response, u64 offset, u64 count, the UTF-8 path.</summary>
    public static FrameBuilder File(uint callId, byte flags, string? head, long offset, long count, string path)
    {
        var frame = new FrameBuilder(FrameType.File, flags, callId, (head?.Length ?? 0) + 20 + path.Length);
        WriteHead(ref frame, flags, head);
        frame.WriteUInt64(offset);
        frame.WriteUInt64(count);
        frame.WriteUtf8(path);
        return frame;
    }

    private static void WriteHead(ref FrameBuilder frame, byte flags, string? head)
    {
        if ((flags & FrameFlags.Head) != 0)
        {
            var length = Encoding.UTF8.GetByteCount(head!);
            frame.WriteUInt32(length);
            frame.WriteUtf8(head);
        }
    }

    /// <summary>Error: the exception's type, message and traceback, UTF-8, NUL-separated.</summary>
    public static FrameBuilder Error(uint callId, string type, string message, string traceback) =>
        Text(FrameType.Error, callId, $"{type}\0{message}\0{traceback}");

    /// <summary>Log: u8 kind (0 a record, 1 a line), u16 level, then a record's <c>name\0message\0detail</c> or the line, UTF-8.</summary>
    public static FrameBuilder Log(uint callId, LogKind kind, int level, string name, string message, string detail)
    {
        var frame = new FrameBuilder(FrameType.Log, 0, callId, 3 + name.Length + message.Length + detail.Length);
        frame.WriteByte((byte)kind);
        frame.WriteUInt16(level);
        frame.WriteUtf8(kind == LogKind.Line ? message : $"{name}\0{message}\0{detail}");
        return frame;
    }

    /// <summary>
    /// AsgiHttp and WsConnect: the scope's fields (<see cref="ScopeField"/> order), then each header's lower-cased name
    /// and value, all NUL-separated; strings as their native bytes (each char one latin-1 byte).
    /// </summary>
    public static FrameBuilder Scope(FrameType type, uint callId, byte flags, IReadOnlyList<string> fields, IEnumerable<(string Name, string Value)> headers)
    {
        var frame = new FrameBuilder(type, flags, callId, 1024);
        var first = true;
        foreach (var field in fields)
        {
            Separate(ref frame, ref first);
            frame.WriteLatin1(field);
        }

        foreach (var (name, value) in headers)
        {
            Separate(ref frame, ref first);

            // Header names are tokens (ASCII): lower-cased, as ASGI has them.
            var room = frame.Room(name.Length);
            Encoding.Latin1.GetBytes(name, room);
            Ascii.ToLowerInPlace(room, out _);
            Separate(ref frame, ref first);
            frame.WriteLatin1(value);
        }

        return frame;
    }

    private static void Separate(ref FrameBuilder frame, ref bool first)
    {
        if (!first)
        {
            frame.WriteByte(0);
        }

        first = false;
    }

    /// <summary>AsgiStart: u16 status, then each header as NUL, name, NUL, value.</summary>
    public static FrameBuilder AsgiStart(uint callId, int status, IEnumerable<(string Name, string Value)> headers)
    {
        var frame = new FrameBuilder(FrameType.AsgiStart, 0, callId);
        frame.WriteUInt16(status);
        WriteHeaders(ref frame, headers);
        return frame;
    }

    /// <summary>WsAccept: u32 length and the UTF-8 subprotocol (empty for none), then the headers as in AsgiStart.</summary>
    public static FrameBuilder WsAccept(uint callId, string? subprotocol, IEnumerable<(string Name, string Value)> headers)
    {
        var frame = new FrameBuilder(FrameType.WsAccept, 0, callId);
        frame.WriteUInt32(Encoding.UTF8.GetByteCount(subprotocol ?? ""));
        frame.WriteUtf8(subprotocol ?? "");
        WriteHeaders(ref frame, headers);
        return frame;
    }

    private static void WriteHeaders(ref FrameBuilder frame, IEnumerable<(string Name, string Value)> headers)
    {
        foreach (var (name, value) in headers)
        {
            frame.WriteByte(0);
            frame.WriteLatin1(name);
            frame.WriteByte(0);
            frame.WriteLatin1(value);
        }
    }

    /// <summary>WsClose (code and UTF-8 reason) and WsDisconnect (code only): u16 code first.</summary>
    public static FrameBuilder Close(FrameType type, uint callId, int code, string reason = "")
    {
        var frame = new FrameBuilder(type, 0, callId, 2 + reason.Length);
        frame.WriteUInt16(code);
        frame.WriteUtf8(reason);
        return frame;
    }
}
