using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.Logging;

namespace GatewayBridge;

internal static partial class GatewayLoggingExtensions
{
    [LoggerMessage(1, LogLevel.Error, "The gateway app failed while handling {Method} {Path}.")]
    public static partial void GatewayAppFailed(this ILogger logger, string method, PathString path, Exception exception);

    [LoggerMessage(2, LogLevel.Warning, "The gateway app sent more than its Content-Length of {ContentLength} bytes for {Path}; the excess was not sent.")]
    public static partial void ContentLengthExceeded(this ILogger logger, long contentLength, PathString path);

    [LoggerMessage(3, LogLevel.Warning, "The gateway app sent {Written} of its declared Content-Length of {ContentLength} bytes for {Path}; Kestrel closes the connection so the client cannot mistake the body for complete.")]
    public static partial void ContentLengthShort(this ILogger logger, long written, long contentLength, PathString path);

    // RequestAborted fires for a client that left and for a host that is stopping; timeouts have their own event (7).
    [LoggerMessage(4, LogLevel.Debug, "The request for {Path} was aborted (the client went away or the host is stopping) before the gateway app's response was complete.")]
    public static partial void RequestAborted(this ILogger logger, PathString path);

    [LoggerMessage(5, LogLevel.Error, "Disposing the gateway app's response iterable for {Path} failed.")]
    public static partial void GatewayAppCloseFailed(this ILogger logger, PathString path, Exception exception);

    [LoggerMessage(6, LogLevel.Information, "The request body for {Path} is larger than the gateway's BufferBodyLimit of {Limit} bytes; answered 413.")]
    public static partial void RequestBodyTooLarge(this ILogger logger, PathString path, long limit);

    [LoggerMessage(7, LogLevel.Warning, "The request for {Path} timed out while the gateway app was answering; the response was ended, and the app is asked for nothing more (its iterable is disposed once the step it is in returns).")]
    public static partial void RequestTimedOut(this ILogger logger, PathString path);

    // Debug, as ASP.NET Core's rate limiter logs its rejections: in an overload every request would add a Warning
    // line just when the host can least afford it. The gatewaybridge.rejected_requests counter carries the count.
    [LoggerMessage(8, LogLevel.Debug, "The gateway's worker queue is full ({QueueLimit} calls waiting); answered 503 to {Path}.")]
    public static partial void QueueFull(this ILogger logger, PathString path, int queueLimit);

    [LoggerMessage(100, LogLevel.Warning, "{Line}")]
    public static partial void AppErrorsLine(this ILogger logger, string line);
}
