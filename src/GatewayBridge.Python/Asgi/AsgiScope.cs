using System.Buffers;
using System.Text;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Http.Features;
using Microsoft.Net.Http.Headers;

namespace GatewayBridge.Python;

/// <summary>
/// The scope of an ASGI request as the Python side builds it (<c>gatewaybridge_asgi._scope</c>): the request's
/// fields as bytes on the wire, NUL-separated, so that the same request gives the scope uvicorn gives. Each string is
/// written as UTF-8, which is the latin-1 of its native string: one char per byte, as it came.
/// </summary>
internal static class AsgiScope
{
    /// <summary>
    /// Writes the scope frame's payload after <see cref="WorkerFrames.HeaderSize"/> bytes left for the header, in a
    /// pooled array the caller returns; <paramref name="length"/> is the payload's length.
    /// </summary>
    public static byte[] Write(HttpContext context, string rootPath, string pathInfo, bool websocket, out int length)
    {
        var request = context.Request;
        var connection = context.Connection;
        var target = EnvironFormat.RequestUri(context.Features.GetRequiredFeature<IHttpRequestFeature>().RawTarget, request);
        var rawPath = RequestPath.RawPath(target);

        // Kestrel removes dot segments before routing: then the decoded path is all there is.
        var rest = RequestPath.RawPathInfo(pathInfo, target) ?? new PathString(pathInfo).ToUriComponent();
        var secure = request.IsHttps;
        var writer = new Writer(1024);
        writer.Field(request.Method);
        writer.Field(websocket ? (secure ? "wss" : "ws") : (secure ? "https" : "http"));
        writer.Field(HttpVersion(request.Protocol));
        writer.Field(rootPath);
        writer.Field(rawPath);
        writer.Field(rest);
        writer.Field(request.QueryString.HasValue ? request.QueryString.Value.AsSpan(1) : default);
        writer.Field(connection.RemoteIpAddress is { } remote ? EnvironFormat.Address(remote) : "");
        writer.Field(connection.RemoteIpAddress is null ? "" : EnvironFormat.Port(connection.RemotePort));
        writer.Field(connection.LocalIpAddress is { } local ? EnvironFormat.Address(local) : "");
        writer.Field(connection.LocalIpAddress is null ? "" : EnvironFormat.Port(connection.LocalPort));
        writer.Field(websocket ? request.Headers[HeaderNames.SecWebSocketProtocol].ToString() : "");
        foreach (var (name, values) in request.Headers)
        {
            foreach (var value in values)
            {
                writer.LowerField(name);
                writer.Field(value);
            }
        }

        length = writer.Length - WorkerFrames.HeaderSize - 1;
        return writer.Buffer;
    }

    /// <summary>ASGI's <c>http_version</c>: "1.1" for HTTP/1.1, "2" for HTTP/2.</summary>
    public static string HttpVersion(string protocol) => protocol switch
    {
        "HTTP/1.1" => "1.1",
        "HTTP/2" => "2",
        "HTTP/3" => "3",
        "HTTP/1.0" => "1.0",
        _ => protocol.StartsWith("HTTP/", StringComparison.Ordinal) ? protocol[5..] : protocol,
    };

    // A pooled buffer, header room first; each field is followed by a NUL (the last one is not sent).
    private struct Writer(int capacity)
    {
        public byte[] Buffer = ArrayPool<byte>.Shared.Rent(capacity);
        public int Length = WorkerFrames.HeaderSize;

        public void Field(ReadOnlySpan<char> value)
        {
            Ensure(Encoding.UTF8.GetMaxByteCount(value.Length) + 1);
            Length += Encoding.UTF8.GetBytes(value, Buffer.AsSpan(Length));
            Buffer[Length++] = 0;
        }

        // Header names are tokens (ASCII): lower-cased as ASGI has them.
        public void LowerField(string name)
        {
            Ensure(name.Length + 1);
            Length += Encoding.ASCII.GetBytes(name, Buffer.AsSpan(Length));
            Ascii.ToLowerInPlace(Buffer.AsSpan(Length - name.Length, name.Length), out _);
            Buffer[Length++] = 0;
        }

        private void Ensure(int more)
        {
            if (Length + more > Buffer.Length)
            {
                var larger = ArrayPool<byte>.Shared.Rent(Math.Max(Length + more, 2 * Buffer.Length));
                Buffer.AsSpan(0, Length).CopyTo(larger);
                ArrayPool<byte>.Shared.Return(Buffer);
                Buffer = larger;
            }
        }
    }
}
