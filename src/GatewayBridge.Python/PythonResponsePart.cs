using System.Buffers;
using Microsoft.Win32.SafeHandles;

namespace GatewayBridge.Python;

/// <summary>What a step of a Python response produced, as the shim's kinds name it.</summary>
internal enum PythonStepKind
{
    /// <summary>The whole body, known at once (the app returned a list).</summary>
    Whole = 0,

    /// <summary>One chunk of a streamed body; more may follow.</summary>
    Chunk = 1,

    /// <summary>The end of a streamed body.</summary>
    End = 2,

    /// <summary>A real file to send with Kestrel's send-file path.</summary>
    File = 3,

    /// <summary>The app raised an exception.</summary>
    Error = 4,
}

/// <summary>
/// One step of a Python response, handed from the Python thread to the request: the headers when they became due,
/// the body bytes (a pooled buffer), a file, or the app's exception.
/// </summary>
internal readonly record struct PythonResponsePart(
    PythonStepKind Kind, string? Head, byte[]? Buffer, int Length, SafeFileHandle? File, long FileOffset, long FileCount,
    PythonAppException? Error, PythonAppException? CloseFailure)
{
    public ReadOnlyMemory<byte> Data => Buffer.AsMemory(0, Length);

    public static PythonResponsePart Chunk(string? head, byte[] buffer, int length) =>
        new(PythonStepKind.Chunk, head, buffer, length, null, 0, 0, null, null);

    /// <summary>Gives back what the part holds: the buffer to its pool, the file descriptor to the system.</summary>
    public void Release()
    {
        if (Buffer is not null)
        {
            ArrayPool<byte>.Shared.Return(Buffer);
        }

        File?.Dispose();
    }
}
