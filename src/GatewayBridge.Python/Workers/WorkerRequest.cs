using System.Buffers;
using System.Buffers.Binary;
using System.Text;
using Microsoft.AspNetCore.WebUtilities;

namespace GatewayBridge.Python;

/// <summary>
/// The REQUEST frame of one request: the environ as native strings (each char one latin-1 byte, as the in-process
/// shim gets them), then the body: in the frame when the bridge buffered it in memory, or the path of the temporary
/// file it spilled to, which the worker opens itself (a 50 MB upload never crosses the socket).
/// </summary>
internal static class WorkerRequest
{
    private const byte NoBody = 0;
    private const byte InlineBody = 1;
    private const byte FileBody = 2;

    public static void Send(WorkerConnection connection, uint id, EnvironDictionary environ)
    {
        var text = PythonEnviron.Build(environ);
        var input = environ.Input as FileBufferingReadStream;
        string? spilled = input is { InMemory: false } ? input.TempFileName : null;
        var inline = input is not null && spilled is null ? checked((int)input.Length) : 0;
        var body = spilled is null ? inline : Encoding.UTF8.GetByteCount(spilled);
        var length = 4 + text.Length + 1 + body;
        var frame = ArrayPool<byte>.Shared.Rent(WorkerFrames.HeaderSize + length);
        try
        {
            var span = frame.AsSpan(0, WorkerFrames.HeaderSize + length);
            WorkerFrames.WriteHeader(span, length, WorkerFrames.Request, 0, id);
            var payload = span[WorkerFrames.HeaderSize..];
            BinaryPrimitives.WriteInt32LittleEndian(payload, text.Length);
            Encoding.Latin1.GetBytes(text, payload.Slice(4, text.Length));
            var rest = payload[(4 + text.Length)..];
            if (spilled is not null)
            {
                rest[0] = FileBody;
                Encoding.UTF8.GetBytes(spilled, rest[1..]);
            }
            else if (inline > 0)
            {
                // In memory: a copy, not I/O.
                rest[0] = InlineBody;
                input!.Position = 0;
                input.ReadExactly(rest.Slice(1, inline));
            }
            else
            {
                rest[0] = NoBody;
            }

            connection.Send(span);
        }
        finally
        {
            ArrayPool<byte>.Shared.Return(frame);
        }
    }
}
