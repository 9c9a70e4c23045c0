using System.Globalization;
using System.Net;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Http.Features;
using Microsoft.AspNetCore.Http.Features.Authentication;
using Microsoft.Extensions.Primitives;

namespace GatewayBridge;

/// <summary>Turns what the server knows about a request into environ values.</summary>
internal static class EnvironFormat
{
    public static string QueryWithoutMark(string? query)
    {
        if (string.IsNullOrEmpty(query) || query.Length == 1)
        {
            return "";
        }

        // ASP.NET keeps the '?'; a fragment never reaches the server from a conforming client, but drop one anyway.
        var fragment = query.IndexOf('#', StringComparison.Ordinal);
        return fragment < 0 ? query[1..] : query[1..fragment];
    }

    /// <summary>The target as the client sent it; the in-memory TestServer has none, so the encoded form is rebuilt.</summary>
    public static string RequestUri(string? rawTarget, HttpRequest request) =>
        string.IsNullOrEmpty(rawTarget)
            ? request.PathBase.Add(request.Path).ToUriComponent() + request.QueryString.ToUriComponent()
            : rawTarget;

    public static string ServerName(StringValues host, IPAddress? localAddress)
    {
        if (!StringValues.IsNullOrEmpty(host))
        {
            return new HostString(host.ToString()).Host;
        }

        return localAddress is null ? "" : Address(localAddress);
    }

    public static string ServerPort(StringValues host, int localPort, bool isHttps)
    {
        if (!StringValues.IsNullOrEmpty(host))
        {
            var port = new HostString(host.ToString()).Port;
            return port is null ? (isHttps ? "443" : "80") : Port(port.Value);
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

    // Reads the authentication feature directly: HttpContext.User would allocate an empty principal for every
    // anonymous request.
    public static string? RemoteUser(IFeatureCollection features)
    {
        var identity = features.Feature<IHttpAuthenticationFeature>()?.User?.Identity;
        return identity is { IsAuthenticated: true } ? identity.Name ?? "" : null;
    }
}
