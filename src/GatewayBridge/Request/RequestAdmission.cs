using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Http.Features;
using Microsoft.AspNetCore.WebUtilities;
using Microsoft.Extensions.Logging;

namespace GatewayBridge;

/// <summary>
/// The first stage of a request: whether it may go to the app at all, and its body made ready for an app that reads
/// synchronously. A full queue answers 503 before the body is read; the body is read asynchronously into a buffer
/// (memory, then a temporary file), and one over <see cref="GatewayOptions.BufferBodyLimit"/> answers 413.
/// </summary>
internal sealed class RequestAdmission
{
    // Asked only when a body spills, as ASP.NET Core's own buffering asks it.
    private static readonly Func<string> TempDirectory = static () =>
        Environment.GetEnvironmentVariable("ASPNETCORE_TEMP") is { Length: > 0 } temp ? temp : Path.GetTempPath();

    private readonly GatewayOptions _options;
    private readonly ILogger _logger;
    private readonly GatewayMetrics _metrics;

    public RequestAdmission(GatewayOptions options, ILogger logger, GatewayMetrics metrics)
    {
        _options = options;
        _logger = logger;
        _metrics = metrics;
    }

    /// <summary>Answers 503 with Retry-After when the app's queue is full: the client should come back, not upload and wait.</summary>
    public bool TryAdmit(HttpContext context, bool hasRoom)
    {
        if (hasRoom)
        {
            return true;
        }

        _metrics.RejectedRequests.Add(1);
        _logger.QueueFull(context.Request.Path, _options.QueueLimit);
        context.Response.StatusCode = StatusCodes.Status503ServiceUnavailable;
        context.Response.Headers.RetryAfter = "1";
        return false;
    }

    /// <summary>Whether the request has a body to buffer; a request without one skips buffering altogether.</summary>
    public static bool HasBody(HttpContext context)
    {
        var length = context.Request.ContentLength;
        if (length is not null)
        {
            return length > 0;
        }

        // Chunked uploads have no length; Kestrel knows whether the framing allows a body at all.
        return context.Features.Feature<IHttpRequestBodyDetectionFeature>()?.CanHaveBody ?? true;
    }

    /// <summary>
    /// Reads the whole body into a buffer positioned at its start, or answers 413 and returns <see langword="null"/>;
    /// <see langword="null"/> too when the request was aborted while its body arrived.
    /// </summary>
    public async Task<FileBufferingReadStream?> BufferBodyAsync(HttpContext context, CancellationToken aborted)
    {
        if (context.Request.ContentLength > _options.BufferBodyLimit)
        {
            RejectTooLarge(context);
            return null;
        }

        var buffered = new FileBufferingReadStream(context.Request.Body, _options.MemoryBufferThreshold, _options.BufferBodyLimit, TempDirectory);
        try
        {
            // Reading asynchronously up front is what lets the app Read synchronously: Kestrel forbids sync I/O.
            await buffered.DrainAsync(aborted);
            buffered.Position = 0;
            return buffered;
        }
        catch (IOException ex) when (ex.GetType() == typeof(IOException) && _options.BufferBodyLimit is not null && !aborted.IsCancellationRequested)
        {
            // FileBufferingReadStream's "buffer limit exceeded" is a plain IOException; Kestrel's own read failures
            // (bad framing, resets) are subclasses and keep their meaning.
            await buffered.DisposeAsync();
            RejectTooLarge(context);
            return null;
        }
        catch (OperationCanceledException) when (aborted.IsCancellationRequested)
        {
            await buffered.DisposeAsync();
            return null;
        }
        catch
        {
            await buffered.DisposeAsync();
            throw;
        }
    }

    private void RejectTooLarge(HttpContext context)
    {
        _logger.RequestBodyTooLarge(context.Request.Path, _options.BufferBodyLimit.GetValueOrDefault());
        context.Response.StatusCode = StatusCodes.Status413PayloadTooLarge;
    }
}
