using System.Collections.Concurrent;

namespace GatewayBridge;

/// <summary>
/// Maps a header name to its <c>HTTP_*</c> key once, so that a request with the usual headers allocates no key strings.
/// </summary>
internal static class HeaderKeys
{
    // Bounded so that a client sending random header names cannot grow it without limit.
    private const int MaxEntries = 1024;
    private static readonly ConcurrentDictionary<string, string> Cache = new(StringComparer.Ordinal);

    public static string For(string headerName)
    {
        // Kestrel hands out the canonical spelling of common headers; a switch finds those without hashing.
        var known = headerName switch
        {
            "Host" => "HTTP_HOST",
            "Accept" => "HTTP_ACCEPT",
            "Accept-Encoding" => "HTTP_ACCEPT_ENCODING",
            "Accept-Language" => "HTTP_ACCEPT_LANGUAGE",
            "User-Agent" => "HTTP_USER_AGENT",
            "Connection" => "HTTP_CONNECTION",
            "Cookie" => "HTTP_COOKIE",
            "Referer" => "HTTP_REFERER",
            "Origin" => "HTTP_ORIGIN",
            "Authorization" => "HTTP_AUTHORIZATION",
            "Cache-Control" => "HTTP_CACHE_CONTROL",
            "If-None-Match" => "HTTP_IF_NONE_MATCH",
            "If-Modified-Since" => "HTTP_IF_MODIFIED_SINCE",
            "Upgrade-Insecure-Requests" => "HTTP_UPGRADE_INSECURE_REQUESTS",
            "X-Forwarded-For" => "HTTP_X_FORWARDED_FOR",
            "X-Forwarded-Proto" => "HTTP_X_FORWARDED_PROTO",
            "X-Requested-With" => "HTTP_X_REQUESTED_WITH",
            _ => null,
        };
        if (known is not null)
        {
            return known;
        }

        if (Cache.TryGetValue(headerName, out var key))
        {
            return key;
        }

        key = Compute(headerName);
        if (Cache.Count < MaxEntries)
        {
            Cache.TryAdd(headerName, key);
        }

        return key;
    }

    public static string Compute(string headerName) =>
        string.Create(Environ.HttpHeaderPrefix.Length + headerName.Length, headerName, static (span, name) =>
        {
            Environ.HttpHeaderPrefix.CopyTo(span);
            var rest = span[Environ.HttpHeaderPrefix.Length..];
            for (var i = 0; i < name.Length; i++)
            {
                var c = name[i];
                rest[i] = c == '-' ? '_' : char.ToUpperInvariant(c);
            }
        });
}
