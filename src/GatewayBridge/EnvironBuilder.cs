using System.Buffers;
using System.Collections.Concurrent;
using System.Globalization;
using System.Net;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Http.Features;
using Microsoft.AspNetCore.Http.Features.Authentication;
using Microsoft.Extensions.Primitives;
using Microsoft.Net.Http.Headers;

namespace GatewayBridge;

/// <summary>
/// The one place where an <see cref="HttpContext"/> becomes an <c>environ</c>.
/// </summary>
internal static class EnvironBuilder
{
    public static GatewayEnvironment Build(
        HttpContext context,
        string scriptName,
        string pathInfo,
        Stream input,
        bool allowUnderscoreHeaders,
        Func<TextWriter>? errorsFactory,
        CancellationToken requestAborted)
    {
        // The request and connection features hold everything; reading them directly skips HttpRequest's per-property
        // feature cache checks, which add up over two dozen values.
        var features = context.Features;
        var request = features.Feature<IHttpRequestFeature>() ??
            throw new InvalidOperationException("The server provides no IHttpRequestFeature.");
        var connection = features.Feature<IHttpConnectionFeature>();
        var rawTarget = request.RawTarget;
        var requestHeaders = request.Headers;
        string? host = requestHeaders.Host;
        var scheme = request.Scheme;
        var isHttps = string.Equals(scheme, "https", StringComparison.OrdinalIgnoreCase);

        var fragment = rawTarget is null ? -1 : rawTarget.IndexOf('#', StringComparison.Ordinal);
        if (fragment >= 0)
        {
            pathInfo = WithoutFragment(pathInfo, rawTarget!, fragment);
        }

        var data = new GatewayRequestData
        {
            Method = request.Method,
            ScriptName = scriptName,
            PathInfo = pathInfo,
            QueryString = request.QueryString ?? "",
            ContentType = requestHeaders.ContentType,
            ContentLength = requestHeaders.TryGetValue(HeaderNames.ContentLength, out var contentLength) ? contentLength.ToString() : null,
            Host = host,
            LocalAddress = connection?.LocalIpAddress,
            LocalPort = connection?.LocalPort ?? 0,
            DefaultPort = isHttps ? "443" : "80",
            Protocol = request.Protocol,
            RemoteAddress = connection?.RemoteIpAddress,
            RemotePort = connection?.RemotePort ?? 0,
            RemoteUser = RemoteUser(features),
            RequestUri = string.IsNullOrEmpty(rawTarget) ? RebuildTarget(context.Request) : rawTarget,
            IsHttps = isHttps,
            Scheme = scheme,
            Input = input,
            ErrorsFactory = errorsFactory,
            HttpContext = context,
            RequestAborted = requestAborted,
        };
        (data.Headers, data.HeaderCount) = CaptureHeaders(requestHeaders, allowUnderscoreHeaders);
        return new GatewayEnvironment(data);
    }

    // Reads the authentication feature directly: HttpContext.User would allocate an empty principal for every
    // anonymous request.
    private static string? RemoteUser(IFeatureCollection features)
    {
        var user = features.Feature<IHttpAuthenticationFeature>()?.User;
        var identity = user?.Identity;
        return identity is { IsAuthenticated: true } ? identity.Name ?? "" : null;
    }

    // Kestrel passes a '#fragment' through into Path when the target has no query; the fragment is the client's own
    // business (RFC 9110 section 4.2.4), so it is cut from PATH_INFO, comparing decoded forms since Path is decoded.
    private static string WithoutFragment(string pathInfo, string rawTarget, int fragment)
    {
        var query = rawTarget.IndexOf('?', StringComparison.Ordinal);
        if (query >= 0 && query < fragment)
        {
            return pathInfo;
        }

        var decoded = PathString.FromUriComponent("/" + rawTarget[fragment..]).Value![1..];
        return pathInfo.EndsWith(decoded, StringComparison.Ordinal) ? pathInfo[..^decoded.Length] : pathInfo;
    }

    // The in-memory TestServer has no raw target; rebuild the encoded form ASP.NET would log.
    private static string RebuildTarget(HttpRequest request) =>
        request.PathBase.Add(request.Path).ToUriComponent() + request.QueryString.ToUriComponent();

    private static (KeyValuePair<string, object?>[] Headers, int Count) CaptureHeaders(
        IHeaderDictionary requestHeaders, bool allowUnderscoreHeaders)
    {
        var count = requestHeaders.Count;
        if (count == 0)
        {
            return ([], 0);
        }

        // Copied out in one call: enumerating the server's header collection through the interface boxes an
        // enumerator and costs two interface calls per header.
        var pairs = ArrayPool<KeyValuePair<string, StringValues>>.Shared.Rent(count);
        var headers = new KeyValuePair<string, object?>[count];
        var n = 0;
        try
        {
            requestHeaders.CopyTo(pairs, 0);
            for (var i = 0; i < count; i++)
            {
                var (name, values) = pairs[i];
                if (name.Length == 0 || name[0] == ':' ||
                    string.Equals(name, HeaderNames.ContentType, StringComparison.OrdinalIgnoreCase) ||
                    string.Equals(name, HeaderNames.ContentLength, StringComparison.OrdinalIgnoreCase))
                {
                    continue;
                }

                if (name.Contains('_', StringComparison.Ordinal))
                {
                    if (!allowUnderscoreHeaders)
                    {
                        continue;
                    }

                    // X_Foo and X-Foo map to one key: keep both values rather than let one hide the other.
                    var key = HeaderKeys.For(name);
                    var value = JoinValues(name, values);
                    var existing = Array.FindIndex(headers, 0, n, h => h.Key == key);
                    if (existing >= 0)
                    {
                        headers[existing] = new(key, (string?)headers[existing].Value + "," + value);
                        continue;
                    }

                    headers[n++] = new(key, value);
                    continue;
                }

                headers[n++] = new(HeaderKeys.For(name), JoinValues(name, values));
            }
        }
        finally
        {
            ArrayPool<KeyValuePair<string, StringValues>>.Shared.Return(pairs, clearArray: true);
        }

        return (headers, n);
    }

    private static string JoinValues(string name, StringValues values)
    {
        if (values.Count <= 1)
        {
            return values.ToString();
        }

        var separator = string.Equals(name, HeaderNames.Cookie, StringComparison.OrdinalIgnoreCase) ? "; " : ",";
        return string.Join(separator, values.ToArray());
    }
}

/// <summary>The raw request data an environ is built from, captured once per request.</summary>
internal struct GatewayRequestData
{
    public string Method;
    public string ScriptName;
    public string PathInfo;
    public string QueryString;
    public string? ContentType;
    public string? ContentLength;
    public string? Host;
    public IPAddress? LocalAddress;
    public int LocalPort;
    public string DefaultPort;
    public string Protocol;
    public IPAddress? RemoteAddress;
    public int RemotePort;
    public string? RemoteUser;
    public string RequestUri;
    public bool IsHttps;
    public string Scheme;
    public Stream Input;
    public Func<TextWriter>? ErrorsFactory;
    public HttpContext? HttpContext;
    public CancellationToken RequestAborted;
    public KeyValuePair<string, object?>[] Headers;
    public int HeaderCount;
}

/// <summary>Formats the environ values that are kept raw until an app reads them.</summary>
internal static class EnvironFormat
{
    public static string QueryWithoutMark(string query)
    {
        // ASP.NET keeps the '?'; a fragment never reaches the server from a conforming client, but drop one anyway.
        var fragment = query.IndexOf('#', StringComparison.Ordinal);
        return fragment < 0 ? query[1..] : query[1..fragment];
    }

    public static string ServerName(string? host, IPAddress? localAddress)
    {
        if (!string.IsNullOrEmpty(host))
        {
            return new HostString(host).Host;
        }

        return localAddress is null ? "" : Address(localAddress);
    }

    public static string ServerPort(string? host, int localPort, string defaultPort)
    {
        if (!string.IsNullOrEmpty(host))
        {
            var port = new HostString(host).Port;
            return port is null ? defaultPort : Port(port.Value);
        }

        return Port(localPort);
    }

    public static string Address(IPAddress address) =>
        (address.IsIPv4MappedToIPv6 ? address.MapToIPv4() : address).ToString();

    public static string Port(int port) => port switch
    {
        80 => "80",
        443 => "443",
        _ => port.ToString(CultureInfo.InvariantCulture),
    };
}

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
