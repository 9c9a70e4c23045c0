using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Http.Features;
using Microsoft.Net.Http.Headers;

namespace GatewayBridge.Python;

/// <summary>
/// The scope of an ASGI request as the Python side builds it (<c>gatewaybridge/asgi.py</c>): the request's fields as
/// bytes on the wire, so that the same request gives the scope uvicorn gives. Each string is written as UTF-8, which the
/// frame carries as the latin-1 of its native string: one char per byte, as it came.
/// </summary>
internal static class AsgiScope
{
    /// <summary>The AsgiHttp or WsConnect frame that opens the call: the scope's fields and the request's headers.</summary>
    public static FrameBuilder Frame(HttpContext context, string rootPath, string pathInfo, bool websocket, uint callId, byte flags, (string Parent, string? State)? trace = null)
    {
        var request = context.Request;
        var connection = context.Connection;
        var target = EnvironFormat.RequestUri(context.Features.GetRequiredFeature<IHttpRequestFeature>().RawTarget, request);

        // Kestrel removes dot segments before routing: then the decoded path is all there is.
        var rest = RequestPath.RawPathInfo(pathInfo, target) ?? new PathString(pathInfo).ToUriComponent();
        var secure = request.IsHttps;
        string[] fields =
        [
            Native(request.Method),
            websocket ? (secure ? "wss" : "ws") : (secure ? "https" : "http"),
            HttpVersion(request.Protocol),
            Native(rootPath),
            Native(RequestPath.RawPath(target)),
            Native(rest),
            request.QueryString.HasValue ? Native(request.QueryString.Value[1..]) : "",
            connection.RemoteIpAddress is { } remote ? EnvironFormat.Address(remote) : "",
            connection.RemoteIpAddress is null ? "" : EnvironFormat.Port(connection.RemotePort),
            connection.LocalIpAddress is { } local ? EnvironFormat.Address(local) : "",
            connection.LocalIpAddress is null ? "" : EnvironFormat.Port(connection.LocalPort),
            websocket ? Native(request.Headers[HeaderNames.SecWebSocketProtocol].ToString()) : "",
        ];
        return FrameWriter.Scope(websocket ? FrameType.WsConnect : FrameType.AsgiHttp, callId, flags, fields, Headers(request.Headers, trace));
    }

    // The request's headers; a traced request's traceparent and tracestate are the app span's (PythonTracing).
    private static IEnumerable<(string, string)> Headers(IHeaderDictionary headers, (string Parent, string? State)? trace)
    {
        foreach (var (name, values) in headers)
        {
            if (trace is not null && (name.Equals("traceparent", StringComparison.OrdinalIgnoreCase) || name.Equals("tracestate", StringComparison.OrdinalIgnoreCase)))
            {
                continue;
            }

            foreach (var value in values)
            {
                yield return (name, Native(value ?? ""));
            }
        }

        if (trace is { } t)
        {
            yield return ("traceparent", t.Parent);
            if (t.State is { Length: > 0 } state)
            {
                yield return ("tracestate", Native(state));
            }
        }
    }

    // The bytes of what Kestrel decoded as UTF-8, one char each.
    private static string Native(string value) => NativeEnviron.Native(value);

    /// <summary>ASGI's <c>http_version</c>: "1.1" for HTTP/1.1, "2" for HTTP/2.</summary>
    public static string HttpVersion(string protocol) => protocol switch
    {
        "HTTP/1.1" => "1.1",
        "HTTP/2" => "2",
        "HTTP/3" => "3",
        "HTTP/1.0" => "1.0",
        _ => protocol.StartsWith("HTTP/", StringComparison.Ordinal) ? protocol[5..] : protocol,
    };
}
