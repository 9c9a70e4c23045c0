using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.Logging.Abstractions;

namespace GatewayBridge.Tests.Infrastructure;

public static class Responses
{
    /// <summary>The response of a request that no server serves, writing its body to <paramref name="body"/> if given.</summary>
    internal static GatewayResponse Detached(Stream? body = null)
    {
        var context = new DefaultHttpContext();
        context.Request.Method = "GET";
        if (body is not null)
        {
            context.Response.Body = body;
        }

        return new(context, NullLogger.Instance, default);
    }
}
