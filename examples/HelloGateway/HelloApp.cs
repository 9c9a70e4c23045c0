using System.Net;
using System.Text;
using GatewayBridge;

namespace HelloGateway;

/// <summary>The classic hello-world gateway app: greets the first path segment, or "web".</summary>
public static class HelloApp
{
    /// <summary>The gateway app.</summary>
    public static IEnumerable<byte[]> Handle(IDictionary<string, object?> environ, StartResponse startResponse)
    {
        var name = ((string?)environ[Environ.PathInfo])?.Trim('/');
        if (string.IsNullOrEmpty(name))
        {
            name = "web";
        }

        startResponse("200 OK", [("Content-Type", "text/html; charset=utf-8")]);
        return [Encoding.UTF8.GetBytes($"<h1>Hello, {WebUtility.HtmlEncode(name)}!</h1>")];
    }
}
