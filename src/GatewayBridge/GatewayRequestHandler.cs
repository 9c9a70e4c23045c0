using System.Diagnostics.Metrics;
using GatewayBridge.Scheduling;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Http.Features;
using Microsoft.AspNetCore.Http.Timeouts;
using Microsoft.AspNetCore.WebUtilities;
using Microsoft.Extensions.Logging;

namespace GatewayBridge;

/// <summary>
/// Runs one gateway app for a request: buffers the body, builds the environ, calls the app, pumps its body, and
/// disposes what it returned. Shared by the middleware and the routed endpoint.
/// </summary>
internal sealed class GatewayRequestHandler : IDisposable
{
    private static readonly string TempDirectory =
        Environment.GetEnvironmentVariable("ASPNETCORE_TEMP") is { Length: > 0 } temp ? temp : Path.GetTempPath();

    private readonly GatewayApp _app;
    private readonly GatewayOptions _options;
    private readonly ILogger _logger;
    private readonly Func<TextWriter> _errorsFactory;
    private readonly GatewayMetrics _metrics;
    private readonly GatewayWorkerPool _pool;

    public GatewayRequestHandler(GatewayApp app, GatewayOptions options, ILoggerFactory loggerFactory, IMeterFactory? meterFactory = null)
    {
        _app = app;
        _options = options;
        _logger = loggerFactory.CreateLogger("GatewayBridge.GatewayMiddleware");
        var errorsLogger = loggerFactory.CreateLogger(ErrorsTextWriter.Category);
        _errorsFactory = () => new ErrorsTextWriter(errorsLogger);
        _metrics = new GatewayMetrics(meterFactory);
        _pool = new GatewayWorkerPool(options.MaxInlineCalls, options.WorkerThreads, options.QueueLimit, _metrics);
    }

    public void Dispose()
    {
        _pool.Dispose();
        _metrics.Dispose();
    }

    public Task HandleAsync(HttpContext context, string scriptName, string pathInfo)
    {
        if (!_pool.HasRoom)
        {
            // Before the body is read: a full queue means the client should come back, not upload and wait.
            _metrics.RejectedRequests.Add(1);
            _logger.QueueFull(context.Request.Path.Value ?? "", _options.QueueLimit);
            context.Response.StatusCode = StatusCodes.Status503ServiceUnavailable;
            context.Response.Headers.RetryAfter = "1";
            return Task.CompletedTask;
        }

        // Kestrel takes a lock on every read of RequestAborted, so one request reads it once.
        var aborted = context.RequestAborted;
        if (HasBody(context))
        {
            return BufferBodyThenRunAsync(context, scriptName, pathInfo, aborted);
        }

        return RunAsync(context, Build(context, scriptName, pathInfo, Stream.Null, aborted), aborted);
    }

    private static bool HasBody(HttpContext context)
    {
        var length = context.Request.ContentLength;
        if (length is not null)
        {
            return length > 0;
        }

        // Chunked uploads have no length; Kestrel knows whether the framing allows a body at all.
        return context.Features.Feature<IHttpRequestBodyDetectionFeature>()?.CanHaveBody ?? true;
    }

    private GatewayEnvironment Build(HttpContext context, string scriptName, string pathInfo, Stream input, CancellationToken aborted) =>
        EnvironBuilder.Build(context, scriptName, pathInfo, input, _options.AllowUnderscoreHeaders, _errorsFactory, aborted);

    private async Task BufferBodyThenRunAsync(HttpContext context, string scriptName, string pathInfo, CancellationToken aborted)
    {
        var request = context.Request;
        if (request.ContentLength > _options.BufferBodyLimit)
        {
            RejectTooLarge(context);
            return;
        }

        var original = request.Body;
        var buffered = new FileBufferingReadStream(original, _options.MemoryBufferThreshold, _options.BufferBodyLimit, TempDirectory);
        try
        {
            try
            {
                // Reading asynchronously up front is what lets the app Read synchronously: Kestrel forbids sync I/O.
                await buffered.DrainAsync(aborted);
            }
            catch (IOException ex) when (ex.GetType() == typeof(IOException) && _options.BufferBodyLimit is not null && !aborted.IsCancellationRequested)
            {
                // FileBufferingReadStream's "buffer limit exceeded" is a plain IOException; Kestrel's own read
                // failures (bad framing, resets) are subclasses and keep their meaning.
                RejectTooLarge(context);
                return;
            }
            catch (OperationCanceledException) when (aborted.IsCancellationRequested)
            {
                return;
            }

            buffered.Position = 0;
            request.Body = buffered;
            await RunAsync(context, Build(context, scriptName, pathInfo, buffered, aborted), aborted);
        }
        finally
        {
            request.Body = original;
            await buffered.DisposeAsync();
        }
    }

    private void RejectTooLarge(HttpContext context)
    {
        _logger.RequestBodyTooLarge(context.Request.Path.Value ?? "", _options.BufferBodyLimit.GetValueOrDefault());
        context.Response.StatusCode = StatusCodes.Status413PayloadTooLarge;
    }

    private async Task RunAsync(HttpContext context, GatewayEnvironment environ, CancellationToken aborted)
    {
        var state = new StartResponseState();
        var writer = new ResponseBodyWriter(context, state, _logger, _pool, aborted);
        IEnumerable<byte[]>? result = null;
        IEnumerator<byte[]>? enumerator = null;
        try
        {
            result = await _pool.InvokeAsync(
                static call => call.App(call.Environ, call.State.StartResponse), (App: _app, Environ: environ, State: state), aborted);

            if (result is null)
            {
                throw new InvalidOperationException("The gateway app returned null instead of an iterable; return [] for an empty body.");
            }

            if (result is IList<byte[]> list)
            {
                await writer.WriteAllAsync(list);
            }
            else
            {
                if (!state.PendingWrites.IsEmpty)
                {
                    // Bytes written before returning a lazy body go out before the app is asked for more.
                    await writer.FlushPendingWritesAsync();
                }

                if (result is FileWrapper file)
                {
                    await writer.SendStreamAsync(file);
                }
                else
                {
                    enumerator = result.GetEnumerator();
                    await writer.PumpAsync(enumerator);
                }
            }

            if (!writer.ClientGone)
            {
                await writer.CompleteAsync();
            }
            else
            {
                EndCancelled(context);
            }
        }
        catch (OperationCanceledException) when (aborted.IsCancellationRequested)
        {
            EndCancelled(context);
        }
        catch (Exception ex)
        {
            // Rethrown on purpose: before the response starts, ASP.NET's exception handling makes the 500; after,
            // Kestrel ends the response without a clean terminator so the client sees it broken.
            _logger.GatewayAppFailed(context.Request.Method, context.Request.Path.Value ?? "", ex);
            throw;
        }
        finally
        {
            await CloseAsync(context, enumerator, result);
            environ.ErrorsWriter?.Flush();
            if (_options.ReportBytesSent && context.Features.Feature<ResponseBytesFeature>() is { } bytes)
            {
                bytes.BytesSent = writer.BytesWritten;
            }
        }
    }

    // RequestAborted fires for a client that left, a host shutting down, and ASP.NET's request timeouts. Only a timeout
    // leaves someone to answer: before the response starts, the cancellation goes up so the timeouts middleware sends
    // its 504; after, the connection is aborted so the cut body cannot pass for a complete one.
    private void EndCancelled(HttpContext context)
    {
        var path = context.Request.Path.Value ?? "";
        var timeout = context.Features.Feature<IHttpRequestTimeoutFeature>()?.RequestTimeoutToken ?? CancellationToken.None;
        if (!timeout.IsCancellationRequested)
        {
            _logger.ClientDisconnected(path);
            return;
        }

        _logger.RequestTimedOut(path);
        if (!context.Response.HasStarted)
        {
            throw new OperationCanceledException("The request timed out before the gateway app's response started.", timeout);
        }

        context.Abort();
    }

    // PEP 3333's close(): exactly once for each object, and never allowed to hide the response's own outcome. It is
    // app code (a generator's finally block may block), so it is scheduled like the rest, but it always runs.
    private ValueTask CloseAsync(HttpContext context, IEnumerator<byte[]>? enumerator, IEnumerable<byte[]>? result)
    {
        var disposable = result as IDisposable;
        if (ReferenceEquals(result, enumerator))
        {
            disposable = null;
        }

        return enumerator is null && disposable is null ? default : DisposeResultAsync(context, enumerator, disposable);
    }

    private async ValueTask DisposeResultAsync(HttpContext context, IEnumerator<byte[]>? enumerator, IDisposable? disposable)
    {
        try
        {
            await _pool.InvokeAsync(static pair => Dispose(pair.Enumerator, pair.Disposable), (Enumerator: enumerator, Disposable: disposable), CancellationToken.None);
        }
        catch (Exception ex)
        {
            _logger.GatewayAppCloseFailed(context.Request.Path.Value ?? "", ex);
        }
    }

    private static bool Dispose(IEnumerator<byte[]>? enumerator, IDisposable? disposable)
    {
        try
        {
            enumerator?.Dispose();
        }
        finally
        {
            disposable?.Dispose();
        }

        return true;
    }
}
