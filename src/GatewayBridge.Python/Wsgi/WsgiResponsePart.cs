using System.Buffers;

namespace GatewayBridge.Python;

/// <summary>
/// One part of a WSGI response, handed from the Python thread or the worker process to the request: the headers
/// when they became due, the body bytes (a pooled buffer), a file, the app's exception, or the worker's failure.
/// <see cref="Total"/> is the length of the whole body for <see cref="WsgiPartKind.Length"/>.
/// </summary>
internal readonly record struct WsgiResponsePart(
    WsgiPartKind Kind, string? Head, byte[]? Buffer, int Length, WsgiFile? File, PythonAppException? Error, PythonAppException? CloseFailure,
    long Total = 0, TransportFailure? Failure = null)
{
    public ReadOnlyMemory<byte> Data => Buffer.AsMemory(0, Length);

    public static WsgiResponsePart Chunk(string? head, byte[] buffer, int length) =>
        new(WsgiPartKind.Chunk, head, buffer, length, null, null, null);

    /// <summary>The exception logged for an iterable whose <c>close()</c> raised.</summary>
    public static PythonAppException CloseFailed(string traceback) => new("close", "the iterable's close() failed", traceback);

    /// <summary>Gives back what the part holds: the buffer to its pool, the file descriptor to the system.</summary>
    public void Release()
    {
        if (Buffer is not null)
        {
            ArrayPool<byte>.Shared.Return(Buffer);
        }

        File?.Descriptor?.Dispose();
    }
}
