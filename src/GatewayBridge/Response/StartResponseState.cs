using System.Buffers;
using System.Runtime.ExceptionServices;

namespace GatewayBridge;

/// <summary>
/// The <c>start_response</c> state machine of one request: what the app asked to send, and whether the headers
/// count as sent. It never touches the transport; the body writer applies it to the response.
/// </summary>
internal sealed class StartResponseState
{
    private ArrayBufferWriter<byte>? _pending;
    private StartResponse? _startResponse;
    private WriteBody? _write;

    /// <summary>The callable handed to the app.</summary>
    public StartResponse StartResponse => _startResponse ??= Start;

    /// <summary>Whether the app has called <c>start_response</c>.</summary>
    public bool Called { get; private set; }

    /// <summary>
    /// Whether the headers count as sent: after the first non-empty chunk, the first write, or the end of the body.
    /// From then on only a call with <c>excInfo</c> is allowed, and it rethrows.
    /// </summary>
    public bool HeadersSent { get; private set; }

    public int StatusCode { get; private set; }

    /// <summary>The app's reason phrase.</summary>
    public string Reason { get; private set; } = "";

    public (string Name, string Value)[] Headers { get; private set; } = [];

    public long? ContentLength { get; private set; }

    /// <summary>Bytes the app passed to the write callable that are not yet on their way to the client.</summary>
    public ReadOnlyMemory<byte> PendingWrites => _pending?.WrittenMemory ?? default;

    public void ClearPendingWrites() => _pending?.Clear();

    /// <summary>Marks the headers as sent; the caller is about to put them on the wire.</summary>
    public void MarkHeadersSent()
    {
        if (!Called)
        {
            throw new InvalidOperationException(
                "The gateway app produced a response body without calling start_response first; call start_response(status, headers) before returning or writing the body (PEP 3333).");
        }

        HeadersSent = true;
    }

    /// <summary>PEP 3333's <c>start_response</c>: records the status and headers once they pass the response rules.</summary>
    public WriteBody Start(string status, IList<(string Name, string Value)> headers, Exception? excInfo = null)
    {
        if (excInfo is not null)
        {
            if (HeadersSent)
            {
                // PEP 3333: once headers are out, the only honest thing left is to fail the response.
                ExceptionDispatchInfo.Throw(excInfo);
            }
        }
        else if (Called)
        {
            throw new InvalidOperationException(
                "start_response was already called for this request; call it again only with excInfo, to replace headers that are not yet sent (PEP 3333).");
        }

        var (code, reason) = ResponseRules.ParseStatus(status);
        var copy = ResponseRules.ValidateHeaders(headers, out var contentLength);
        StatusCode = code;
        Reason = reason;
        Headers = copy;
        ContentLength = contentLength;
        Called = true;
        return _write ??= Write;
    }

    private void Write(byte[] data)
    {
        ArgumentNullException.ThrowIfNull(data);
        MarkHeadersSent();
        if (data.Length > 0)
        {
            // The app may reuse its array once write returns, so the bytes are copied now and sent asynchronously
            // as soon as the app hands control back, instead of blocking this thread on the socket.
            (_pending ??= new ArrayBufferWriter<byte>()).Write(data);
        }
    }
}
