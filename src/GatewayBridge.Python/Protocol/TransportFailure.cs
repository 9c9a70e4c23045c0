using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.Logging;

namespace GatewayBridge.Python;

/// <summary>
/// Why a Python server failed a call it held without answering it: it died, broke the protocol or stopped (502), or its
/// app code ran past <c>Timeout</c> (504). <see cref="NeverSent"/>: the call never reached Python (its server was gone
/// before it was sent, or a worker died before it started it), so another server may take it.
/// </summary>
/// <param name="StatusCode">502 or 504.</param>
/// <param name="Server">The server, for the log: "Python worker 1234", or the host's ASGI loop.</param>
/// <param name="Reason">What happened, as the log says it: "exited with status 7".</param>
/// <param name="NeverSent">Whether the call never reached app code.</param>
internal sealed record TransportFailure(int StatusCode, string Server, string Reason, bool NeverSent = false)
{
    public static TransportFailure Worker(int pid, string reason, int statusCode = StatusCodes.Status502BadGateway) =>
        new(statusCode, $"Python worker {pid}", reason);

    /// <summary>The ASGI loop in the host's own interpreter is gone.</summary>
    public static TransportFailure Loop(string reason) =>
        new(StatusCodes.Status502BadGateway, "the ASGI loop in the host's interpreter", reason);

    /// <summary>
    /// The one mapping of a transport failure to the response, for WSGI and ASGI alike: logged with the server; before
    /// the response started, whatever was put on it (by earlier middleware, or the app's own headers) is cleared for the
    /// gateway's 502 or 504; after, the connection is cut, so the client cannot take a partial body for a whole one.
    /// </summary>
    public void Respond(HttpContext context, ILogger logger)
    {
        logger.PythonRequestFailed(context.Request.Method, context.Request.Path, StatusCode, Server, Reason);
        if (context.Response.HasStarted)
        {
            context.Abort();
            return;
        }

        context.Response.Clear();
        context.Response.StatusCode = StatusCode;
    }
}
