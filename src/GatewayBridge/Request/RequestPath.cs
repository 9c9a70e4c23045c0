using Microsoft.AspNetCore.Http;

namespace GatewayBridge;

/// <summary>
/// Where a request's path splits into the app's mount point (SCRIPT_NAME, ASGI's <c>root_path</c>) and the rest
/// (PATH_INFO, ASGI's <c>path</c>), computed here only, for every entry point and every kind of app.
/// </summary>
internal static class RequestPath
{
    // A request's Path and PathBase come from the server's request feature, whose values are never null ("" when empty).

    /// <summary>Behind middleware (<c>Use*App</c>, also inside <c>app.Map</c>): the mount point is <c>PathBase</c>.</summary>
    public static (string ScriptName, string PathInfo) AtPathBase(HttpRequest request) =>
        (request.PathBase.Value!.TrimEnd('/'), request.Path.Value!);

    /// <summary>
    /// At a routed endpoint (<c>Map*App</c>): the mount point is <c>PathBase</c> and the prefix as the request spelled it
    /// (routing matches it case-insensitively); <paramref name="rest"/> is the catch-all route value after it.
    /// </summary>
    public static (string ScriptName, string PathInfo) AtMount(HttpRequest request, string? rest)
    {
        var (prefix, pathInfo) = SplitAtMount(request.Path.Value!, rest);
        return (request.PathBase.Value + prefix, pathInfo);
    }

    /// <summary>Splits <paramref name="path"/> where the catch-all value <paramref name="rest"/> begins, after a '/'.</summary>
    public static (string Prefix, string PathInfo) SplitAtMount(string path, string? rest)
    {
        if (string.IsNullOrEmpty(rest))
        {
            return path.EndsWith('/') ? (path[..^1], "/") : (path, "");
        }

        var split = path.Length - rest.Length - 1;
        if (split >= 0 && path[split] == '/' && path.AsSpan(split + 1).SequenceEqual(rest))
        {
            return (path[..split], path[split..]);
        }

        return (path, "");
    }

    /// <summary>
    /// PATH_INFO without a <c>#fragment</c>: Kestrel passes one through into <c>Path</c> when the target has no query;
    /// the fragment is the client's own business (RFC 9110 section 4.2.4). Compared decoded, as <c>Path</c> is.
    /// </summary>
    public static string WithoutFragment(string pathInfo, string? rawTarget)
    {
        var fragment = rawTarget is null ? -1 : rawTarget.IndexOf('#', StringComparison.Ordinal);
        if (fragment < 0)
        {
            return pathInfo;
        }

        var query = rawTarget!.IndexOf('?', StringComparison.Ordinal);
        if (query >= 0 && query < fragment)
        {
            return pathInfo;
        }

        var decoded = PathString.FromUriComponent("/" + rawTarget[fragment..]).Value![1..];
        return pathInfo.EndsWith(decoded, StringComparison.Ordinal) ? pathInfo[..^decoded.Length] : pathInfo;
    }

    /// <summary>
    /// The part of the raw request target's path that <paramref name="pathInfo"/> was decoded from, still
    /// percent-encoded: what a server that decodes the raw target itself (gunicorn, uvicorn) puts after the mount
    /// point. <see langword="null"/> when the two no longer line up (Kestrel removed dot segments).
    /// </summary>
    public static string? RawPathInfo(string pathInfo, string requestUri)
    {
        var rawPath = RawPath(requestUri);
        if (HasDotSegment(rawPath))
        {
            return null;
        }

        // '/' never comes out of ASP.NET's decoding (an encoded slash stays "%2F"), so PATH_INFO is the raw path's
        // tail with as many slashes as PATH_INFO has.
        var slashes = pathInfo.AsSpan().Count('/');
        var cut = rawPath.Length;
        for (var i = 0; i < slashes; i++)
        {
            cut = cut > 0 ? rawPath.LastIndexOf('/', cut - 1) : -1;
        }

        return cut >= 0 && (slashes > 0 || pathInfo.Length == 0) ? rawPath[cut..] : null;
    }

    /// <summary>The path part of a request target: origin form (<c>/a?q</c>) or absolute form (<c>http://host/a?q</c>).</summary>
    public static string RawPath(string target)
    {
        var end = target.AsSpan().IndexOfAny('?', '#');
        var path = end < 0 ? target : target[..end];
        var scheme = path.IndexOf("://", StringComparison.Ordinal);
        if (scheme >= 0)
        {
            var slash = path.IndexOf('/', scheme + 3);
            path = slash < 0 ? "/" : path[slash..];
        }

        return path;
    }

    private static bool HasDotSegment(string rawPath)
    {
        if (!rawPath.Contains('.', StringComparison.Ordinal) && !rawPath.Contains("%2e", StringComparison.OrdinalIgnoreCase))
        {
            return false;
        }

        foreach (var segment in rawPath.Split('/'))
        {
            if (segment.Replace("%2e", ".", StringComparison.OrdinalIgnoreCase) is "." or "..")
            {
                return true;
            }
        }

        return false;
    }
}
