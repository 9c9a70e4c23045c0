using System.Buffers;
using System.Buffers.Binary;
using System.Text;

namespace GatewayBridge.Python;

/// <summary>
/// A frame being built in a pooled buffer: the header's room first, then the payload as it is written; <see cref="Span"/>
/// is the whole frame, its header filled in. Disposing gives the buffer back.
/// </summary>
internal ref struct FrameBuilder
{
    private byte[] _buffer;
    private int _length;
    private readonly FrameType _type;
    private readonly byte _flags;
    private readonly uint _callId;

    public FrameBuilder(FrameType type, byte flags, uint callId, int capacity = 256)
    {
        _type = type;
        _flags = flags;
        _callId = callId;
        _buffer = ArrayPool<byte>.Shared.Rent(WorkerProtocol.HeaderSize + capacity);
        _length = WorkerProtocol.HeaderSize;
    }

    /// <summary>The payload's length so far.</summary>
    public readonly int PayloadLength => _length - WorkerProtocol.HeaderSize;

    /// <summary>The whole frame; throws for a payload over <see cref="WorkerProtocol.MaxPayload"/>.</summary>
    public readonly ReadOnlySpan<byte> Span
    {
        get
        {
            if (PayloadLength > WorkerProtocol.MaxPayload)
            {
                throw new InvalidOperationException($"A {_type} frame of {PayloadLength} bytes; the worker protocol carries at most {WorkerProtocol.MaxPayload} in one.");
            }

            FrameWriter.WriteHeader(_buffer, PayloadLength, _type, _flags, _callId);
            return _buffer.AsSpan(0, _length);
        }
    }

    public void Write(ReadOnlySpan<byte> bytes) => bytes.CopyTo(Room(bytes.Length));

    public void WriteByte(byte value) => Room(1)[0] = value;

    public void WriteUInt16(int value) => BinaryPrimitives.WriteUInt16LittleEndian(Room(2), checked((ushort)value));

    public void WriteUInt32(long value) => BinaryPrimitives.WriteUInt32LittleEndian(Room(4), checked((uint)value));

    public void WriteUInt64(long value) => BinaryPrimitives.WriteUInt64LittleEndian(Room(8), checked((ulong)value));

    /// <summary>Native text: each char one byte (latin-1), as PEP 3333's native strings and the scope's fields go.</summary>
    public void WriteLatin1(ReadOnlySpan<char> text) => Encoding.Latin1.GetBytes(text, Room(text.Length));

    public void WriteUtf8(ReadOnlySpan<char> text)
    {
        var room = Room(Encoding.UTF8.GetMaxByteCount(text.Length));
        _length -= room.Length - Encoding.UTF8.GetBytes(text, room);
    }

    /// <summary>Room for <paramref name="count"/> more bytes of payload, now counted as written.</summary>
    public Span<byte> Room(int count)
    {
        if (_length + count > _buffer.Length)
        {
            var larger = ArrayPool<byte>.Shared.Rent(Math.Max(_length + count, 2 * _buffer.Length));
            _buffer.AsSpan(0, _length).CopyTo(larger);
            ArrayPool<byte>.Shared.Return(_buffer);
            _buffer = larger;
        }

        var room = _buffer.AsSpan(_length, count);
        _length += count;
        return room;
    }

    public void Dispose()
    {
        if (_buffer is not null)
        {
            ArrayPool<byte>.Shared.Return(_buffer);
            _buffer = null!;
        }
    }
}
