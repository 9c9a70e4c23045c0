using System.Buffers.Binary;
using System.Text;
using System.Text.Json;

namespace GatewayBridge.Python;

/// <summary>
/// Reads the worker protocol: a frame's header (checked against what the reading side may be sent), and every
/// payload, as docs/worker-protocol.md lays them out. Bytes that break a layout throw <see cref="InvalidDataException"/>:
/// the other side cannot be trusted with the next call either.
/// </summary>
internal static class FrameReader
{
    /// <summary>Reads a header; throws for a type the reading side is never sent, or a payload over the limit.</summary>
    public static (FrameType Type, byte Flags, uint CallId, int Length) ReadHeader(ReadOnlySpan<byte> header, bool fromServer)
    {
        var length = BinaryPrimitives.ReadInt32LittleEndian(header);
        var type = (FrameType)header[4];
        if (fromServer ? !WorkerProtocol.IsFromServer(type) : !WorkerProtocol.IsFromHost(type))
        {
            throw new InvalidDataException($"bytes that are not a frame it may send (type {(byte)type}, length {length})");
        }

        if (length is < 0 or > WorkerProtocol.MaxPayload)
        {
            throw new InvalidDataException($"a {type} frame of {(uint)length} bytes, over the protocol's {WorkerProtocol.MaxPayload}");
        }

        return (type, header[5], BinaryPrimitives.ReadUInt32LittleEndian(header[6..]), length);
    }

    /// <summary>Hello: (version, secret, the path of the module that sent it).</summary>
    public static (int Version, string Secret, string Module) ReadHello(ReadOnlySpan<byte> payload)
    {
        Need(payload, 3, "Hello");
        var version = BinaryPrimitives.ReadUInt16LittleEndian(payload);
        var length = payload[2];
        Need(payload, 3 + length, "Hello");
        return (version, Encoding.Latin1.GetString(payload.Slice(3, length)), Encoding.UTF8.GetString(payload[(3 + length)..]));
    }

    /// <summary>Config and Ready: the JSON object.</summary>
    public static JsonDocument ReadJson(ReadOnlySpan<byte> payload)
    {
        try
        {
            var json = JsonDocument.Parse(payload.ToArray());
            return json.RootElement.ValueKind == JsonValueKind.Object ? json : throw new InvalidDataException("a JSON payload that is not an object");
        }
        catch (JsonException ex)
        {
            throw new InvalidDataException($"a JSON payload that does not parse ({ex.Message})", ex);
        }
    }

    /// <summary>Failed, CloseFailed: the UTF-8 text.</summary>
    public static string ReadText(ReadOnlySpan<byte> payload) => Encoding.UTF8.GetString(payload);

    /// <summary>Started: when a thread took the request, in CLOCK_MONOTONIC nanoseconds.</summary>
    public static long ReadStarted(ReadOnlySpan<byte> payload) =>
        payload.Length == 8 ? checked((long)BinaryPrimitives.ReadUInt64LittleEndian(payload)) : throw new InvalidDataException($"a Started frame of {payload.Length} bytes, not 8");

    /// <summary>Credit and Taken: the count.</summary>
    public static int ReadCount(ReadOnlySpan<byte> payload)
    {
        Need(payload, 4, "count");
        var count = BinaryPrimitives.ReadUInt32LittleEndian(payload);
        return payload.Length == 4 && count <= int.MaxValue ? (int)count : throw new InvalidDataException($"a count of {count} in {payload.Length} bytes");
    }

    /// <summary>Request: (the environ as native text, the body's kind, the body or the spilled file's path).</summary>
    public static (string Environ, RequestBodyKind Kind, byte[] Body, string? Path) ReadRequest(ReadOnlySpan<byte> payload)
    {
        Need(payload, 4, "Request");
        var length = BinaryPrimitives.ReadInt32LittleEndian(payload);
        Need(payload, 5 + length, "Request");
        var environ = Encoding.Latin1.GetString(payload.Slice(4, length));
        var kind = (RequestBodyKind)payload[4 + length];
        var rest = payload[(5 + length)..];
        return kind switch
        {
            RequestBodyKind.None => (environ, kind, [], null),
            RequestBodyKind.Inline => (environ, kind, rest.ToArray(), null),
            RequestBodyKind.File => (environ, kind, [], Encoding.UTF8.GetString(rest)),
            _ => throw new InvalidDataException($"a Request with body kind {(byte)kind}"),
        };
    }

    /// <summary>
    /// Response: the head if flagged (and <paramref name="payload"/> moved past it), the whole body's length if flagged;
    /// what is left of <paramref name="payload"/> is body bytes.
    /// </summary>
    public static (string? Head, long? Total) ReadResponse(byte flags, ref ReadOnlySpan<byte> payload)
    {
        var head = ReadHead(flags, ref payload);
        if ((flags & FrameFlags.Length) == 0)
        {
            return (head, null);
        }

        Need(payload, 8, "Response");
        var total = BinaryPrimitives.ReadInt64LittleEndian(payload);
        payload = payload[8..];
        return (head, total);
    }

    /// <summary>File: (head, offset, count, path).</summary>
    public static (string? Head, long Offset, long Count, string Path) ReadFile(byte flags, ReadOnlySpan<byte> payload)
    {
        var head = ReadHead(flags, ref payload);
        Need(payload, 16, "File");
        return (head, BinaryPrimitives.ReadInt64LittleEndian(payload), BinaryPrimitives.ReadInt64LittleEndian(payload[8..]), Encoding.UTF8.GetString(payload[16..]));
    }

    private static string? ReadHead(byte flags, ref ReadOnlySpan<byte> payload)
    {
        if ((flags & FrameFlags.Head) == 0)
        {
            return null;
        }

        Need(payload, 4, "head");
        var length = BinaryPrimitives.ReadInt32LittleEndian(payload);
        Need(payload, 4 + length, "head");
        var head = Encoding.UTF8.GetString(payload.Slice(4, length));
        payload = payload[(4 + length)..];
        return head;
    }

    /// <summary>Error: (the Python exception's type, message, traceback); fields it left out are empty.</summary>
    public static (string Type, string Message, string Traceback) ReadError(ReadOnlySpan<byte> payload)
    {
        var fields = Encoding.UTF8.GetString(payload).Split('\0', 3);
        return (fields[0], fields.Length > 1 ? fields[1] : "", fields.Length > 2 ? fields[2] : "");
    }

    /// <summary>Log: (kind, Python level, the logger's name, the message or line, the detail).</summary>
    public static (LogKind Kind, int Level, string Name, string Message, string Detail) ReadLog(ReadOnlySpan<byte> payload)
    {
        Need(payload, 3, "Log");
        var kind = (LogKind)payload[0];
        var level = BinaryPrimitives.ReadUInt16LittleEndian(payload[1..]);
        var text = Encoding.UTF8.GetString(payload[3..]);
        if (kind == LogKind.Line)
        {
            return (kind, level, "", text, "");
        }

        if (kind != LogKind.Record)
        {
            throw new InvalidDataException($"a Log of kind {(byte)kind}");
        }

        var fields = text.Split('\0', 3);
        return (kind, level, fields[0], fields.Length > 1 ? fields[1] : "", fields.Length > 2 ? fields[2] : "");
    }

    /// <summary>AsgiHttp, WsConnect: the scope's fields in <see cref="ScopeField"/> order, and the header pairs.</summary>
    public static (string[] Fields, (string Name, string Value)[] Headers) ReadScope(ReadOnlySpan<byte> payload)
    {
        var items = Encoding.Latin1.GetString(payload).Split('\0');
        var count = Enum.GetValues<ScopeField>().Length;
        if (items.Length < count || (items.Length - count) % 2 != 0)
        {
            throw new InvalidDataException($"a scope of {items.Length} fields");
        }

        return (items[..count], Pairs(items.AsSpan(count)));
    }

    /// <summary>AsgiStart: (status, headers).</summary>
    public static (int Status, (string Name, string Value)[] Headers) ReadAsgiStart(ReadOnlySpan<byte> payload)
    {
        Need(payload, 2, "AsgiStart");
        return (BinaryPrimitives.ReadUInt16LittleEndian(payload), ReadHeaders(payload[2..]));
    }

    /// <summary>WsAccept: (subprotocol, or null for none; headers).</summary>
    public static (string? Subprotocol, (string Name, string Value)[] Headers) ReadWsAccept(ReadOnlySpan<byte> payload)
    {
        Need(payload, 4, "WsAccept");
        var length = BinaryPrimitives.ReadInt32LittleEndian(payload);
        Need(payload, 4 + length, "WsAccept");
        var subprotocol = Encoding.UTF8.GetString(payload.Slice(4, length));
        return (subprotocol.Length == 0 ? null : subprotocol, ReadHeaders(payload[(4 + length)..]));
    }

    /// <summary>WsClose and WsDisconnect: (code, reason).</summary>
    public static (int Code, string Reason) ReadClose(ReadOnlySpan<byte> payload)
    {
        Need(payload, 2, "close");
        return (BinaryPrimitives.ReadUInt16LittleEndian(payload), Encoding.UTF8.GetString(payload[2..]));
    }

    // Each header as NUL, name, NUL, value: bytes, taken as latin-1.
    private static (string Name, string Value)[] ReadHeaders(ReadOnlySpan<byte> block)
    {
        if (block.IsEmpty)
        {
            return [];
        }

        if (block[0] != 0)
        {
            throw new InvalidDataException("headers that do not start with a NUL");
        }

        var items = Encoding.Latin1.GetString(block[1..]).Split('\0');
        return items.Length % 2 == 0 ? Pairs(items) : throw new InvalidDataException("headers that do not pair up");
    }

    private static (string, string)[] Pairs(ReadOnlySpan<string> items)
    {
        var pairs = new (string, string)[items.Length / 2];
        for (var i = 0; i < pairs.Length; i++)
        {
            pairs[i] = (items[2 * i], items[(2 * i) + 1]);
        }

        return pairs;
    }

    private static void Need(ReadOnlySpan<byte> payload, int length, string what)
    {
        if (payload.Length < length)
        {
            throw new InvalidDataException($"a {what} payload of {payload.Length} bytes, shorter than its layout");
        }
    }
}
