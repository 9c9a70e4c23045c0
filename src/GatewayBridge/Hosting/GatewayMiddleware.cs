using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Http.Features;

namespace GatewayBridge;

/// <summary>
/// Terminal middleware for a gateway app. A request that routing matched to an endpoint goes on to that endpoint,
/// so <c>app.MapGet</c> and friends win over the gateway app in a <c>WebApplication</c>.
/// </summary>
internal sealed class GatewayMiddleware
{
    private readonly RequestDelegate _next;
    private readonly IGatewayRequestHandler _handler;

    public GatewayMiddleware(RequestDelegate next, IGatewayRequestHandler handler)
    {
        _next = next;
        _handler = handler;
    }

    public Task Invoke(HttpContext context)
    {
        if (context.Features.Feature<IEndpointFeature>()?.Endpoint?.RequestDelegate is not null)
        {
            return _next(context);
        }

        var (scriptName, pathInfo) = RequestPath.AtPathBase(context.Request);
        return _handler.HandleAsync(context, scriptName, pathInfo);
    }
}
