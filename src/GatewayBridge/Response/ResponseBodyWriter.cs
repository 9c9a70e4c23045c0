using System.Buffers;
using System.IO.Pipelines;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Http.Features;
using Microsoft.AspNetCore.WebUtilities;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Primitives;

namespace GatewayBridge;

/// <summary>
/// Sends a gateway app's response through Kestrel: applies the <c>start_response</c> state when the headers become
/// due, writes chunks through the response <see cref="PipeWriter"/> with asynchronous flushes, and keeps the body
/// within a declared Content-Length. <see cref="WriteAsync"/> takes what a .NET app returned; hosts that produce
/// the body elsewhere (a Python thread) drive the same primitives one step at a time.
/// </summary>
internal sealed class ResponseBodyWriter
{
    private readonly HttpContext _context;
    private readonly StartResponseState _state;
    private readonly ILogger _logger;
    private readonly CancellationToken _aborted;
    private bool _started;
    private bool _bodyAllowed;
    private long _written;
    private long? _limit;
    private bool _overflowLogged;

    public ResponseBodyWriter(HttpContext context, StartResponseState state, ILogger logger, CancellationToken aborted)
    {
        _context = context;
        _state = state;
        _logger = logger;
        _aborted = aborted;
    }

    /// <summary>The body bytes handed to Kestrel so far.</summary>
    public long BytesWritten => _written;

    /// <summary>
    /// Whether the request was aborted (the client left, the host is stopping, or a request timeout fired): the
    /// writer stops asking the app for more.
    /// </summary>
    public bool IsAborted => _aborted.IsCancellationRequested;

    /// <summary>The enumerator the writer took from an iterator body, for the caller's <c>close()</c>.</summary>
    public IEnumerator<byte[]>? Enumerator { get; private set; }

    /// <summary>
    /// Sends what a .NET gateway app returned, and ends the response unless the request was aborted. Each step of an
    /// iterator body is app code, so it runs where <paramref name="pool"/> decides.
    /// </summary>
    public Task WriteAsync(IEnumerable<byte[]> body, GatewayWorkerPool pool)
    {
        if (body is IList<byte[]> list)
        {
            // A materialized body: everything is known, so it gets a Content-Length and one flush.
            var write = WriteListAsync(list);
            return write.IsCompletedSuccessfully ? CompleteAsync() : CompleteAfterAsync(write);
        }

        return WriteLazyAsync(body, pool);
    }

    private async Task CompleteAfterAsync(ValueTask write)
    {
        await write;
        await CompleteAsync();
    }

    private async Task WriteLazyAsync(IEnumerable<byte[]> body, GatewayWorkerPool pool)
    {
        if (HasDueOutput)
        {
            // Bytes written before returning a lazy body go out before the app is asked for more.
            await FlushPendingWritesAsync();
        }

        if (body is FileWrapper file)
        {
            await SendStreamAsync(file);
        }
        else
        {
            Enumerator = body.GetEnumerator();
            await PumpAsync(Enumerator, pool);
        }

        await CompleteAsync();
    }

    private ValueTask WriteListAsync(IList<byte[]> chunks)
    {
        if (chunks.Count == 1 && !_started && _state.PendingWrites.IsEmpty)
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

        ApplyHeaders(body.Length);
        if (!_bodyAllowed || body.IsEmpty || (_limit is long limit && body.Length > limit))
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
        Write(body.Span);
    }

    private async ValueTask WriteManyAsync(IList<byte[]> chunks)
    {
        long total = _state.PendingWrites.Length;
        for (var i = 0; i < chunks.Count; i++)
        {
            total += (chunks[i] ?? throw NullChunk()).Length;
        }

        if (!_started)
        {
            await StartAsync(total);
        }

        Write(_state.PendingWrites.Span);
        _state.ClearPendingWrites();
        for (var i = 0; i < chunks.Count; i++)
        {
            Write(chunks[i]);
        }

        // No flush: Kestrel flushes once when the response completes, with the chunked terminator if there is one.
    }

    /// <summary>Enumerates a lazy body (an iterator), flushing each chunk before asking the app for the next.</summary>
    private async Task PumpAsync(IEnumerator<byte[]> enumerator, GatewayWorkerPool pool)
    {
        while (!IsAborted)
        {
            var more = await pool.InvokeAsync(static e => e.MoveNext(), enumerator, _aborted);
            if (HasDueOutput)
            {
                await FlushPendingWritesAsync();
            }

            if (!more)
            {
                return;
            }

            var chunk = enumerator.Current ?? throw NullChunk();
            if (chunk.Length > 0)
            {
                await WriteChunkAsync(chunk);
            }
        }
    }

    /// <summary>Sends one chunk of a streamed body (headers first if they are due) and flushes it.</summary>
    public async ValueTask WriteChunkAsync(ReadOnlyMemory<byte> chunk)
    {
        if (!_started)
        {
            await StartAsync(autoLength: null);
        }

        Write(chunk.Span);
        await FlushAsync();
    }

    /// <summary>Sends a <c>wsgi.file_wrapper</c> body: Kestrel's send-file path for files, async copies otherwise.</summary>
    private Task SendStreamAsync(FileWrapper wrapper)
    {
        var stream = wrapper.Stream;
        if (stream is FileStream file && stream.CanSeek && File.Exists(file.Name))
        {
            return SendFileAsync(file.Name, file.Position, Math.Max(0, file.Length - file.Position));
        }

        return SendStreamAsync(stream, wrapper.BlockSize);
    }

    /// <summary>Copies <paramref name="stream"/> from its position to its end, a block and a flush at a time.</summary>
    public async Task SendStreamAsync(Stream stream, int blockSize)
    {
        long? remaining = stream.CanSeek ? Math.Max(0, stream.Length - stream.Position) : null;
        if (!_started)
        {
            await StartAsync(remaining);
        }

        if (!_bodyAllowed)
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

                Write(buffer.AsSpan(0, read));
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

        if (!_bodyAllowed)
        {
            return;
        }

        if (_limit is long limit && count > limit - _written)
        {
            _logger.ContentLengthExceeded(limit, _context.Request.Path.Value ?? "");
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
        if (_bodyAllowed && _limit is long limit && _written < limit && !IsAborted)
        {
            _logger.ContentLengthShort(_written, limit, _context.Request.Path.Value ?? "");
        }
    }

    /// <summary>
    /// Whether the app's write() left something due: bytes not yet on their way, or headers not yet sent (PEP 3333
    /// makes them due at the first write(), even of no bytes).
    /// </summary>
    private bool HasDueOutput => !_state.PendingWrites.IsEmpty || (_state.HeadersSent && !_started);

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
            await FlushPendingWritesAsync();
        }
        catch (Exception ex) when (ex is IOException or OperationCanceledException or InvalidOperationException)
        {
        }
    }

    /// <summary>Sends what the app passed to the write callable, before the app is asked for anything more.</summary>
    private async Task FlushPendingWritesAsync()
    {
        if (!_started)
        {
            await StartAsync(autoLength: null);
        }

        Write(_state.PendingWrites.Span);
        _state.ClearPendingWrites();
        await FlushAsync();
    }

    private Task StartAsync(long? autoLength)
    {
        ApplyHeaders(autoLength);
        return _context.Response.StartAsync(_aborted);
    }

    // Puts the start_response state on the response without starting it, so that a single write can send the
    // headers and the body together, as Kestrel does for a plain middleware's first write.
    private void ApplyHeaders(long? autoLength)
    {
        _state.MarkHeadersSent();
        _started = true;

        var response = _context.Response;
        var status = _state.StatusCode;
        response.StatusCode = status;
        if (!string.Equals(_state.Reason, ReasonPhrases.GetReasonPhrase(status), StringComparison.Ordinal))
        {
            _context.Features.GetRequiredFeature<IHttpResponseFeature>().ReasonPhrase = _state.Reason;
        }

        var headers = response.Headers;
        foreach (var (name, value) in _state.Headers)
        {
            if (!string.Equals(name, "Content-Length", StringComparison.OrdinalIgnoreCase))
            {
                // Not IHeaderDictionary.Append: it drops an empty value, which HTTP allows and the app chose to send.
                headers[name] = StringValues.Concat(headers[name], value);
            }
        }

        var isHead = HttpMethods.IsHead(_context.Request.Method);

        // RFC 9110: 204 and 304 never have content, and a 205 must not send any either (Kestrel refuses to write one).
        // A 204 must not carry a Content-Length either, nor a 205 one above 0, and Kestrel throws on them; apps send
        // them all the same (Django's CommonMiddleware gives every response its length), so the bridge sends what HTTP
        // allows (none on a 204, 0 on a 205) rather than a 500.
        var statusHasBody = status is not (204 or 205 or 304);
        _bodyAllowed = statusHasBody && !isHead;
        if (_state.ContentLength is long declared && status != 204)
        {
            response.ContentLength = status == 205 ? 0 : declared;
            _limit = declared;
        }
        else if (autoLength is long length && statusHasBody)
        {
            response.ContentLength = length;
            _limit = length;
        }
    }

    private void Write(ReadOnlySpan<byte> chunk)
    {
        if (!_bodyAllowed || chunk.IsEmpty)
        {
            return;
        }

        if (_limit is long limit && _written + chunk.Length > limit)
        {
            if (!_overflowLogged)
            {
                _overflowLogged = true;
                _logger.ContentLengthExceeded(limit, _context.Request.Path.Value ?? "");
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

    private static InvalidOperationException NullChunk() =>
        new("The gateway app's iterable yielded null; yield an empty array for no data (PEP 3333 body chunks are bytes).");
}
