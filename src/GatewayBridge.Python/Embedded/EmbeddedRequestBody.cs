using System.Buffers;
using Microsoft.AspNetCore.WebUtilities;

namespace GatewayBridge.Python;

/// <summary>
/// The buffered request body in the form Python reads without crossing back into .NET: bytes in memory (a
/// <c>BytesIO</c>), or the temporary file the body spilled to (opened by Python, so a 50 MB upload is never one
/// Python <c>bytes</c> object).
/// </summary>
internal sealed class EmbeddedRequestBody
{
    private EmbeddedRequestBody(byte[]? memory, int length, string? path)
    {
        Memory = memory;
        Length = length;
        Path = path;
    }

    public static EmbeddedRequestBody None { get; } = new(null, 0, null);

    /// <summary>A pooled copy of a body kept in memory, or <see langword="null"/>.</summary>
    public byte[]? Memory { get; private set; }

    public int Length { get; }

    /// <summary>The file a large body spilled to, or <see langword="null"/>.</summary>
    public string? Path { get; }

    public static EmbeddedRequestBody From(Stream input)
    {
        if (input is not FileBufferingReadStream buffered)
        {
            return None;
        }

        if (!buffered.InMemory && buffered.TempFileName is { } path)
        {
            // Position 0 was set when the body was drained, which flushed the file's write buffer.
            return new EmbeddedRequestBody(null, 0, path);
        }

        var length = checked((int)buffered.Length);
        var memory = ArrayPool<byte>.Shared.Rent(Math.Max(length, 1));
        buffered.ReadExactly(memory, 0, length);
        return new EmbeddedRequestBody(memory, length, null);
    }

    /// <summary>Gives the pooled copy back once Python has its own.</summary>
    public void Release()
    {
        if (Memory is { } memory)
        {
            Memory = null;
            ArrayPool<byte>.Shared.Return(memory);
        }
    }
}
