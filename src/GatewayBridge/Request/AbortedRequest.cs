using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Http.Timeouts;
using Microsoft.Extensions.Logging;

namespace GatewayBridge;

/// <summary>
/// The end of a request whose <c>RequestAborted</c> fired, for every kind of app (WSGI and ASGI alike): it fires for a
/// client that left, a host shutting down, and ASP.NET's request timeouts. Only a timeout leaves someone to answer.
/// </summary>
internal static class AbortedRequest
{
    /// <summary>
    /// Logs the end; for a timeout before the response started, the cancellation goes up so the timeouts middleware sends
    /// its 504; after, the connection is aborted so the cut body cannot pass for a complete one.
    /// </summary>
    public static void End(HttpContext context, ILogger logger)
    {
        var path = context.Request.Path;
        var timeout = context.Features.Feature<IHttpRequestTimeoutFeature>()?.RequestTimeoutToken ?? CancellationToken.None;
        if (!timeout.IsCancellationRequested)
        {
            logger.RequestAborted(path);
            return;
        }

        logger.RequestTimedOut(path);
        if (!context.Response.HasStarted)
        {
            throw new OperationCanceledException("The request timed out before the gateway app's response started.", timeout);
        }

        context.Abort();
    }
}
