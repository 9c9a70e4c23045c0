using System.Buffers;
using System.IO.Pipelines;
using System.Runtime.ExceptionServices;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.Logging;

namespace GatewayBridge;

/// <summary>
/// One request's response: PEP 3333's <c>start_response</c> state machine and <c>write</c> callable, and the writes
/// that put the status, headers and body through Kestrel's <see cref="PipeWriter"/> with HTTP's framing (a declared
/// Content-Length kept, no body on HEAD, 204, 205 or 304). It only writes what it is given: the invoker runs the app,
/// enumerates its body and closes it. One object per request, so a hello costs one allocation here.
/// </summary>
internal sealed class GatewayResponse
{
    private readonly HttpContext _context;
    private readonly ILogger _logger;
    private readonly CancellationToken _aborted;
    private StartResponse? _startResponse;
    private WriteBody? _write;
    private ArrayBufferWriter<byte>? _pending;
    private ResponseHead _head;
    private bool _started;
    private long _written;
    private bool _overflowLogged;

    public GatewayResponse(HttpContext context, ILogger logger, CancellationToken aborted)
    {
        _context = context;
        _logger = logger;
        _aborted = aborted;
    }

    /// <summary>The <c>start_response</c> callable handed to the app.</summary>
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

    /// <summary>The Content-Length the app declared, if any.</summary>
    public long? ContentLength { get; private set; }

    /// <summary>The body bytes handed to Kestrel so far.</summary>
    public long BytesWritten => _written;

    /// <summary>
    /// Whether the request was aborted (the client left, the host is stopping, or a request timeout fired): nothing
    /// more is written, and the invoker asks the app for nothing more.
    /// </summary>
    public bool IsAborted => _aborted.IsCancellationRequested;

    /// <summary>
    /// Whether the app's write() left something due: bytes not yet on their way, or headers not yet sent (PEP 3333
    /// makes them due at the first write(), even of no bytes).
    /// </summary>
    public bool HasDueOutput => (_pending is { WrittenCount: > 0 }) || (HeadersSent && !_started);

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
        return _write ??= WriteCallable;
    }

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

    // PEP 3333's write(): what the app writes goes out before it is asked for anything more.
    private void WriteCallable(byte[] data)
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

    /// <summary>Sends a body known in full (the app returned a list): it gets a Content-Length and one flush.</summary>
    public ValueTask WriteListAsync(IList<byte[]> chunks)
    {
        if (chunks.Count == 1 && !HasDueOutput)
        {
            return WriteWholeBodyAsync(chunks[0] ?? throw NullChunk());
        }

        return WriteManyAsync(chunks);
    }

    /// <summary>
    /// Sends a body that is complete in one buffer: headers and body in one write and one flush, with a
    /// Content-Length, and no async state machine when Kestrel takes the bytes at once.
    /// </summary>
    public ValueTask WriteWholeBodyAsync(ReadOnlyMemory<byte> body)
    {
        if (_started)
        {
            // The app wrote before returning its body (write()); what it returned is the body's last chunk.
            return WriteChunkAsync(body);
        }

        ApplyHead(body.Length);
        if (!_head.BodyAllowed || body.IsEmpty || (_head.Limit is long limit && body.Length > limit))
        {
            return StartThenWriteAsync(body);
        }

        _written = body.Length;
        var write = _context.Response.BodyWriter.WriteAsync(body, _aborted);
        if (write.IsCompletedSuccessfully)
        {
            _ = write.Result;
            return default;
        }

        return new ValueTask(write.AsTask());
    }

    private async ValueTask StartThenWriteAsync(ReadOnlyMemory<byte> body)
    {
        await _context.Response.StartAsync(_aborted);
        Send(body.Span);
    }

    private async ValueTask WriteManyAsync(IList<byte[]> chunks)
    {
        long total = _pending?.WrittenCount ?? 0;
        for (var i = 0; i < chunks.Count; i++)
        {
            total += (chunks[i] ?? throw NullChunk()).Length;
        }

        if (!_started)
        {
            await StartAsync(total);
        }

        WritePending();
        for (var i = 0; i < chunks.Count; i++)
        {
            Send(chunks[i]);
        }

        // No flush: Kestrel flushes once when the response completes, with the chunked terminator if there is one.
    }

    /// <summary>Sends the headers of a body whose length is known but which comes in chunks; it gets a Content-Length.</summary>
    public Task StartBodyAsync(long length) => _started ? Task.CompletedTask : StartAsync(length);

    /// <summary>Sends one chunk of a streamed body (headers first if they are due) and flushes it.</summary>
    public async ValueTask WriteChunkAsync(ReadOnlyMemory<byte> chunk)
    {
        if (!_started)
        {
            await StartAsync(autoLength: null);
        }

        Send(chunk.Span);
        await FlushAsync();
    }

    /// <summary>Sends what the app passed to the write callable (and the headers, if that made them due), flushed.</summary>
    public async Task FlushDueOutputAsync()
    {
        if (!_started)
        {
            await StartAsync(autoLength: null);
        }

        WritePending();
        await FlushAsync();
    }

    /// <summary>Copies <paramref name="stream"/> from its position to its end, a block and a flush at a time.</summary>
    public async Task SendStreamAsync(Stream stream, int blockSize)
    {
        long? remaining = stream.CanSeek ? Math.Max(0, stream.Length - stream.Position) : null;
        if (!_started)
        {
            await StartAsync(remaining);
        }

        if (!_head.BodyAllowed)
        {
            return;
        }

        var buffer = ArrayPool<byte>.Shared.Rent(blockSize);
        try
        {
            while (!IsAborted)
            {
                var read = await stream.ReadAsync(buffer.AsMemory(0, blockSize), _aborted);
                if (read == 0)
                {
                    break;
                }

                Send(buffer.AsSpan(0, read));
                await FlushAsync();
            }
        }
        finally
        {
            ArrayPool<byte>.Shared.Return(buffer);
        }
    }

    /// <summary>Sends <paramref name="count"/> bytes of the file at <paramref name="path"/> through Kestrel's send-file path.</summary>
    public async Task SendFileAsync(string path, long offset, long count)
    {
        if (!_started)
        {
            await StartAsync(count);
        }

        if (!_head.BodyAllowed)
        {
            return;
        }

        if (_head.Limit is long limit && count > limit - _written)
        {
            _logger.ContentLengthExceeded(limit, _context.Request.Path);
            count = limit - _written;
        }

        await _context.Response.SendFileAsync(path, offset, count, _aborted);
        _written += count;
    }

    /// <summary>
    /// Ends the body: sends headers that were never due (an empty body). A body shorter than its Content-Length is
    /// logged; Kestrel then closes the connection after the bytes that were sent (an HttpContext.Abort here could
    /// discard them), so the client never waits for bytes that will not come.
    /// Does nothing for an aborted request: there is nobody to finish it for.
    /// </summary>
    public Task CompleteAsync()
    {
        if (IsAborted)
        {
            return Task.CompletedTask;
        }

        // Every way of sending a body has put the app's write() bytes out before it gets here.
        if (_started)
        {
            CheckShortBody();
            return Task.CompletedTask;
        }

        return StartEmptyAsync();
    }

    private async Task StartEmptyAsync()
    {
        await StartAsync(autoLength: 0);
        CheckShortBody();
    }

    private void CheckShortBody()
    {
        if (_head.BodyAllowed && _head.Limit is long limit && _written < limit && !IsAborted)
        {
            _logger.ContentLengthShort(_written, limit, _context.Request.Path);
        }
    }

    /// <summary>
    /// After the app failed: what it wrote before failing goes out (the response then breaks), as a server that
    /// sends write() at once would have sent it. Best effort: a client that left is no reason to hide the app's error.
    /// </summary>
    public async Task SendDueOutputAsync()
    {
        if (!HasDueOutput || IsAborted)
        {
            return;
        }

        try
        {
            await FlushDueOutputAsync();
        }
        catch (Exception ex) when (ex is IOException or OperationCanceledException or InvalidOperationException)
        {
        }
    }

    private Task StartAsync(long? autoLength)
    {
        ApplyHead(autoLength);
        return _context.Response.StartAsync(_aborted);
    }

    // Puts the start_response state on the response without starting it, so that a single write can send the
    // headers and the body together, as Kestrel does for a plain middleware's first write.
    private void ApplyHead(long? autoLength)
    {
        MarkHeadersSent();
        _started = true;
        _head = ResponseHead.Apply(_context, StatusCode, Reason, Headers, ContentLength, autoLength);
    }

    private void WritePending()
    {
        if (_pending is { WrittenCount: > 0 } pending)
        {
            Send(pending.WrittenSpan);
            pending.Clear();
        }
    }

    private void Send(ReadOnlySpan<byte> chunk)
    {
        if (!_head.BodyAllowed || chunk.IsEmpty)
        {
            return;
        }

        if (_head.Limit is long limit && _written + chunk.Length > limit)
        {
            if (!_overflowLogged)
            {
                _overflowLogged = true;
                _logger.ContentLengthExceeded(limit, _context.Request.Path);
            }

            chunk = chunk[..(int)(limit - _written)];
            if (chunk.IsEmpty)
            {
                return;
            }
        }

        _context.Response.BodyWriter.Write(chunk);
        _written += chunk.Length;
    }

    private async Task FlushAsync()
    {
        // Flushed even when no body may follow (HEAD, 204, 304): the headers were due, and the client is waiting.
        var result = await _context.Response.BodyWriter.FlushAsync(_aborted);
        if (result.IsCanceled || result.IsCompleted)
        {
            // The reader side is gone: the client disconnected. Writes would be silently dropped from here on.
            _context.Abort();
        }
    }

    public static InvalidOperationException NullChunk() =>
        new("The gateway app's iterable yielded null; yield an empty array for no data (PEP 3333 body chunks are bytes).");
}
