using System.Collections.Frozen;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.Primitives;
using Microsoft.Net.Http.Headers;

namespace GatewayBridge;

/// <summary>
/// Every key the server puts in an environ, each defined once: its name, and how its value is read from the request
/// and formatted. The environ reads a key the first time the app asks for it, so a key nobody reads costs nothing.
/// Adding a key is one line here and a constant in <see cref="Environ"/>.
/// </summary>
internal static class EnvironTable
{
    private static readonly object True = true;
    private static readonly object False = false;
    private static readonly object Version = (1, 0);

    /// <summary>How many keys <see cref="Keys"/> has: the size of every environ's slots.</summary>
    public const int Count = 25;

    /// <summary>The keys in the order an enumeration of the environ yields them (the contract's order).</summary>
    /// <remarks>A reader returns <see langword="null"/> for a key the request does not have.</remarks>
    public static readonly EnvironKey[] Keys =
    [
        new(Environ.RequestMethod, static r => r.Request.Method),
        new(Environ.ScriptName, static r => r.ScriptName),
        new(Environ.PathInfo, static r => RequestPath.WithoutFragment(r.PathInfo, r.Request.RawTarget)),
        new(Environ.QueryString, static r => EnvironFormat.QueryWithoutMark(r.Request.QueryString)),
        new(Environ.ContentType, static r => HeaderOrNull(r.Request.Headers.ContentType)),
        new(Environ.ContentLength, static r => HeaderOrNull(r.Request.Headers[HeaderNames.ContentLength])),
        new(Environ.ServerName, static r => EnvironFormat.ServerName(r.Request.Headers.Host, r.Connection?.LocalIpAddress)),
        new(Environ.ServerPort, static r => EnvironFormat.ServerPort(r.Request.Headers.Host, r.Connection?.LocalPort ?? 0, r.IsHttps)),
        new(Environ.ServerProtocol, static r => r.Request.Protocol),
        new(Environ.RemoteAddr, static r => r.Connection?.RemoteIpAddress is { } address ? EnvironFormat.Address(address) : null),
        new(Environ.RemotePort, static r => r.Connection is { RemoteIpAddress: not null } c ? EnvironFormat.Port(c.RemotePort) : null),
        new(Environ.RemoteUser, static r => EnvironFormat.RemoteUser(r.Context.Features)),
        new(Environ.RequestUri, static r => EnvironFormat.RequestUri(r.Request.RawTarget, r.Context.Request)),
        new(Environ.Https, static r => r.IsHttps ? "on" : null),
        new(Environ.Version, static _ => Version),
        new(Environ.UrlScheme, static r => r.Request.Scheme),
        new(Environ.Input, static r => r.Input),
        new(Environ.Errors, static r => r.OpenErrors()),
        new(Environ.Multithread, static _ => True),
        new(Environ.Multiprocess, static _ => False),
        new(Environ.RunOnce, static _ => False),
        new(Environ.FileWrapper, static _ => FileWrapper.Factory),
        new(Environ.InputTerminated, static _ => True),
        new(Environ.HttpContext, static r => r.Context),
        new(Environ.RequestAborted, static r => r.RequestAborted),
    ];

    /// <summary>The position of each key in <see cref="Keys"/>.</summary>
    /// <remarks>Built with a check that <see cref="Count"/> is the number of keys, so that a key added without it fails at once.</remarks>
    public static readonly FrozenDictionary<string, int> Index =
        (Keys.Length == Count ? Keys : throw new InvalidOperationException($"EnvironTable.Count is {Count}, and the table has {Keys.Length} keys."))
            .Select((key, i) => KeyValuePair.Create(key.Name, i)).ToFrozenDictionary(StringComparer.Ordinal);

    // A header sent with an empty value is present ("") and one not sent is absent (null).
    private static string? HeaderOrNull(StringValues values) => values.Count == 0 ? null : values.ToString();
}
