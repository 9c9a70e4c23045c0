using System.Net;
using System.Text;
using GatewayBridge;

namespace SideBySide;

/// <summary>The not-yet-ported parts of the site, still gateway apps.</summary>
public static class LegacyApps
{
    /// <summary>The public legacy site: everything no endpoint has taken over yet.</summary>
    public static IEnumerable<byte[]> Site(IDictionary<string, object?> environ, StartResponse startResponse)
    {
        var path = WebUtility.HtmlEncode((string)environ[Environ.PathInfo]!);
        startResponse("200 OK", [("Content-Type", "text/html; charset=utf-8")]);
        return [Encoding.UTF8.GetBytes($"<p>legacy site: {path}</p>")];
    }

    /// <summary>The legacy admin pages, mounted behind ASP.NET Core authorization; REMOTE_USER says who.</summary>
    public static IEnumerable<byte[]> Admin(IDictionary<string, object?> environ, StartResponse startResponse)
    {
        var user = environ.TryGetValue(Environ.RemoteUser, out var name) ? (string)name! : "(nobody)";
        startResponse("200 OK", [("Content-Type", "text/plain; charset=utf-8")]);
        return [Encoding.UTF8.GetBytes($"legacy admin {environ[Environ.ScriptName]}{environ[Environ.PathInfo]} for {user}")];
    }
}
