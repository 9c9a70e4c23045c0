using System.Buffers;

namespace GatewayBridge.Python;

/// <summary>
/// One step of a Python response, handed from the Python thread or the worker process to the request: the headers
/// when they became due, the body bytes (a pooled buffer), a file, the app's exception, or the worker's failure.
/// <see cref="Total"/> is the length of the whole body for <see cref="PythonStepKind.Length"/>.
/// </summary>
internal readonly record struct PythonResponsePart(
    PythonStepKind Kind, string? Head, byte[]? Buffer, int Length, PythonFile? File, PythonAppException? Error, PythonAppException? CloseFailure,
    long Total = 0, WorkerFailure? Failure = null)
{
    public ReadOnlyMemory<byte> Data => Buffer.AsMemory(0, Length);

    public static PythonResponsePart Chunk(string? head, byte[] buffer, int length) =>
        new(PythonStepKind.Chunk, head, buffer, length, null, null, null);

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
