using Microsoft.Extensions.Logging;

namespace GatewayBridge;

internal static partial class GatewayLoggingExtensions
{
    [LoggerMessage(1, LogLevel.Error, "The gateway app failed while handling {Method} {Path}.", EventName = "GatewayAppFailed")]
    public static partial void GatewayAppFailed(this ILogger logger, string method, string path, Exception exception);

    [LoggerMessage(2, LogLevel.Warning, "The gateway app sent more than its Content-Length of {ContentLength} bytes for {Path}; the excess was not sent.", EventName = "ContentLengthExceeded")]
    public static partial void ContentLengthExceeded(this ILogger logger, long contentLength, string path);

    [LoggerMessage(3, LogLevel.Warning, "The gateway app sent {Written} of its declared Content-Length of {ContentLength} bytes for {Path}; Kestrel closes the connection so the client cannot mistake the body for complete.", EventName = "ContentLengthShort")]
    public static partial void ContentLengthShort(this ILogger logger, long written, long contentLength, string path);

    [LoggerMessage(4, LogLevel.Debug, "The client went away before the gateway app's response to {Path} was complete.", EventName = "ClientDisconnected")]
    public static partial void ClientDisconnected(this ILogger logger, string path);

    [LoggerMessage(5, LogLevel.Error, "Disposing the gateway app's response iterable for {Path} failed.", EventName = "GatewayAppCloseFailed")]
    public static partial void GatewayAppCloseFailed(this ILogger logger, string path, Exception exception);

    [LoggerMessage(6, LogLevel.Information, "The request body for {Path} is larger than the gateway's BufferBodyLimit of {Limit} bytes; answered 413.", EventName = "RequestBodyTooLarge")]
    public static partial void RequestBodyTooLarge(this ILogger logger, string path, long limit);

    [LoggerMessage(7, LogLevel.Warning, "The request for {Path} timed out while the gateway app was answering; the app was stopped and its iterable disposed.", EventName = "RequestTimedOut")]
    public static partial void RequestTimedOut(this ILogger logger, string path);

    // Debug, as ASP.NET Core's rate limiter logs its rejections: in an overload every request would add a Warning
    // line just when the host can least afford it. The gatewaybridge.rejected_requests counter carries the count.
    [LoggerMessage(8, LogLevel.Debug, "The gateway's worker queue is full ({QueueLimit} calls waiting); answered 503 to {Path}.", EventName = "QueueFull")]
    public static partial void QueueFull(this ILogger logger, string path, int queueLimit);

    [LoggerMessage(100, LogLevel.Warning, "{Line}", EventName = "WsgiErrors")]
    public static partial void AppErrorsLine(this ILogger logger, string line);
}
