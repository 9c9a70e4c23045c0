using Microsoft.AspNetCore.Http;

namespace GatewayBridge;

/// <summary>
/// What the middleware and the routed endpoint hand a request to, once the mount point is known: a WSGI-style app's
/// <see cref="GatewayRequestHandler"/>, or another protocol's handler (GatewayBridge.Python's ASGI apps).
/// </summary>
internal interface IGatewayRequestHandler
{
    /// <summary>Handles the request; <paramref name="scriptName"/> is the mount point, <paramref name="pathInfo"/> the rest.</summary>
    Task HandleAsync(HttpContext context, string scriptName, string pathInfo);
}
