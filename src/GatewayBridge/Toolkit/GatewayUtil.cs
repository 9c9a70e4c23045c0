using System.Buffers;
using System.Text;

namespace GatewayBridge;

/// <summary>
/// Helpers for gateway apps and servers, after CPython's <c>wsgiref.util</c>.
/// </summary>
public static class GatewayUtil
{
    // RFC 3986 unreserved characters: never percent-encoded.
    private static readonly SearchValues<char> Unreserved =
        SearchValues.Create("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-._~");

    /// <summary>
    /// The full URL of the request, rebuilt as PEP 3333 describes (<c>wsgiref.util.request_uri</c>): the
    /// application URI, then PATH_INFO percent-encoded (keeping <c>/;=,</c>), then <c>?QUERY_STRING</c>.
    /// </summary>
    /// <param name="environ">The request's environ.</param>
    /// <param name="includeQuery">Whether to append the query string.</param>
    /// <returns>An absolute URL such as <c>http://example.com/app/path?x=1</c>.</returns>
    public static string RequestUri(IDictionary<string, object?> environ, bool includeQuery = true)
    {
        ArgumentNullException.ThrowIfNull(environ);
        var url = new StringBuilder(ApplicationUri(environ));
        var pathInfo = Quote(GetString(environ, Environ.PathInfo), "/;=,");
        url.Append(string.IsNullOrEmpty(GetString(environ, Environ.ScriptName)) && pathInfo.Length > 0 ? pathInfo[1..] : pathInfo);
        var query = GetString(environ, Environ.QueryString);
        if (includeQuery && !string.IsNullOrEmpty(query))
        {
            url.Append('?').Append(query);
        }

        return url.ToString();
    }

    /// <summary>
    /// The URL of the application's root (<c>wsgiref.util.application_uri</c>): scheme, host (HTTP_HOST, else
    /// SERVER_NAME with a non-default SERVER_PORT) and SCRIPT_NAME, percent-encoded.
    /// </summary>
    /// <param name="environ">The request's environ.</param>
    /// <returns>A URL such as <c>https://example.com/app</c>, or <c>http://example.com/</c> at the root.</returns>
    public static string ApplicationUri(IDictionary<string, object?> environ)
    {
        ArgumentNullException.ThrowIfNull(environ);
        var scheme = GetString(environ, Environ.UrlScheme) ?? GuessScheme(environ);
        var url = new StringBuilder(scheme).Append("://");
        var host = GetString(environ, "HTTP_HOST");
        if (!string.IsNullOrEmpty(host))
        {
            url.Append(host);
        }
        else
        {
            url.Append(GetString(environ, Environ.ServerName));
            var port = GetString(environ, Environ.ServerPort);
            var defaultPort = scheme == "https" ? "443" : "80";
            if (!string.IsNullOrEmpty(port) && port != defaultPort)
            {
                url.Append(':').Append(port);
            }
        }

        var scriptName = GetString(environ, Environ.ScriptName);
        url.Append(Quote(string.IsNullOrEmpty(scriptName) ? "/" : scriptName, "/"));
        return url.ToString();
    }

    /// <summary>
    /// Moves one segment from PATH_INFO to SCRIPT_NAME and returns it (<c>wsgiref.util.shift_path_info</c>);
    /// empty segments and <c>.</c> are skipped, and SCRIPT_NAME is normalised as a POSIX path.
    /// </summary>
    /// <param name="environ">The environ to change.</param>
    /// <returns>The segment; "" for a trailing slash; <see langword="null"/> when PATH_INFO is empty or <c>/.</c>.</returns>
    public static string? ShiftPathInfo(IDictionary<string, object?> environ)
    {
        ArgumentNullException.ThrowIfNull(environ);
        var pathInfo = GetString(environ, Environ.PathInfo);
        if (string.IsNullOrEmpty(pathInfo))
        {
            return null;
        }

        var parts = pathInfo.Split('/').ToList();
        if (parts.Count > 2)
        {
            // Empty and '.' segments between the first and the last carry no meaning.
            var middle = parts.GetRange(1, parts.Count - 2).Where(p => p.Length > 0 && p != ".");
            parts = [parts[0], .. middle, parts[^1]];
        }

        var name = parts.Count > 1 ? parts[1] : "";
        if (parts.Count > 1)
        {
            parts.RemoveAt(1);
        }

        var scriptName = NormalizePosixPath((GetString(environ, Environ.ScriptName) ?? "") + "/" + name);
        if (scriptName.EndsWith('/'))
        {
            scriptName = scriptName[..^1];
        }

        if (name.Length == 0 && !scriptName.EndsWith('/'))
        {
            scriptName += "/";
        }

        environ[Environ.ScriptName] = scriptName;
        environ[Environ.PathInfo] = string.Join('/', parts);

        // '/.' is not stripped above when it is the only segment left; it shifts nothing.
        return name == "." ? null : name;
    }

    /// <summary>
    /// <c>https</c> when the environ's HTTPS is <c>on</c>, <c>yes</c> or <c>1</c> (exactly, as
    /// <c>wsgiref.util.guess_scheme</c> compares), else <c>http</c>.
    /// </summary>
    /// <param name="environ">The environ to read.</param>
    /// <returns><c>https</c> or <c>http</c>.</returns>
    public static string GuessScheme(IDictionary<string, object?> environ)
    {
        ArgumentNullException.ThrowIfNull(environ);
        return GetString(environ, Environ.Https) is "on" or "yes" or "1" ? "https" : "http";
    }

    /// <summary>
    /// Fills the keys a minimal valid environ needs, without touching keys already present
    /// (<c>wsgiref.util.setup_testing_defaults</c>): a GET of <c>/</c> on <c>127.0.0.1</c>, an empty body.
    /// </summary>
    /// <param name="environ">The environ to fill; usually an empty dictionary in a unit test.</param>
    public static void SetupTestingDefaults(IDictionary<string, object?> environ)
    {
        ArgumentNullException.ThrowIfNull(environ);
        environ.TryAdd(Environ.ServerName, "127.0.0.1");
        environ.TryAdd(Environ.ServerProtocol, "HTTP/1.0");
        environ.TryAdd("HTTP_HOST", environ[Environ.ServerName]);
        environ.TryAdd(Environ.RequestMethod, "GET");
        if (!environ.ContainsKey(Environ.ScriptName) && !environ.ContainsKey(Environ.PathInfo))
        {
            environ[Environ.ScriptName] = "";
            environ[Environ.PathInfo] = "/";
        }

        environ.TryAdd(Environ.QueryString, "");
        environ.TryAdd(Environ.Version, (1, 0));
        environ.TryAdd(Environ.RunOnce, false);
        environ.TryAdd(Environ.Multithread, false);
        environ.TryAdd(Environ.Multiprocess, false);
        environ.TryAdd(Environ.Input, new MemoryStream([], writable: false));
        environ.TryAdd(Environ.Errors, new StringWriter());
        environ.TryAdd(Environ.UrlScheme, GuessScheme(environ));
        environ.TryAdd(Environ.ServerPort, (string?)environ[Environ.UrlScheme] == "https" ? "443" : "80");
    }

    /// <summary>
    /// Whether <paramref name="headerName"/> is a hop-by-hop header (RFC 9110 section 7.6.1), which only the server may send.
    /// </summary>
    /// <param name="headerName">A header name, in any case.</param>
    /// <returns><see langword="true"/> for <c>Connection</c>, <c>Keep-Alive</c>, <c>Proxy-Authenticate</c>,
    /// <c>Proxy-Authorization</c>, <c>TE</c>, <c>Trailers</c>, <c>Transfer-Encoding</c> and <c>Upgrade</c>.</returns>
    public static bool IsHopByHop(string headerName)
    {
        ArgumentNullException.ThrowIfNull(headerName);
        return headerName.Length switch
        {
            2 => headerName.Equals("TE", StringComparison.OrdinalIgnoreCase),
            7 => headerName.Equals("Upgrade", StringComparison.OrdinalIgnoreCase),
            8 => headerName.Equals("Trailers", StringComparison.OrdinalIgnoreCase),
            10 => headerName.Equals("Connection", StringComparison.OrdinalIgnoreCase) ||
                  headerName.Equals("Keep-Alive", StringComparison.OrdinalIgnoreCase),
            17 => headerName.Equals("Transfer-Encoding", StringComparison.OrdinalIgnoreCase),
            18 => headerName.Equals("Proxy-Authenticate", StringComparison.OrdinalIgnoreCase),
            19 => headerName.Equals("Proxy-Authorization", StringComparison.OrdinalIgnoreCase),
            _ => false,
        };
    }

    /// <summary>
    /// Percent-encodes <paramref name="value"/> as UTF-8, keeping unreserved characters, <paramref name="safe"/>,
    /// and existing <c>%XX</c> escapes (PATH_INFO keeps an encoded <c>%2F</c> as ASP.NET's Request.Path does).
    /// </summary>
    internal static string Quote(string? value, string safe)
    {
        if (string.IsNullOrEmpty(value))
        {
            return "";
        }

        var builder = new StringBuilder(value.Length);
        Span<byte> utf8 = stackalloc byte[4];
        for (var i = 0; i < value.Length; i++)
        {
            var c = value[i];
            if (Unreserved.Contains(c) || safe.Contains(c, StringComparison.Ordinal))
            {
                builder.Append(c);
            }
            else if (c == '%' && i + 2 < value.Length && char.IsAsciiHexDigit(value[i + 1]) && char.IsAsciiHexDigit(value[i + 2]))
            {
                builder.Append(c);
            }
            else
            {
                // A lone surrogate cannot be UTF-8; it goes out as U+FFFD rather than failing the whole URL.
                var rune = Rune.TryGetRuneAt(value, i, out var r) ? r : Rune.ReplacementChar;
                var length = rune.EncodeToUtf8(utf8);
                for (var b = 0; b < length; b++)
                {
                    builder.Append('%').Append(utf8[b].ToString("X2", System.Globalization.CultureInfo.InvariantCulture));
                }

                // A surrogate pair is one rune of two chars; U+FFFD (for a lone surrogate) is one char.
                i += rune.Utf16SequenceLength - 1;
            }
        }

        return builder.ToString();
    }

    internal static string NormalizePosixPath(string path)
    {
        if (path.Length == 0)
        {
            return ".";
        }

        var absolute = path[0] == '/';
        var stack = new List<string>();
        foreach (var part in path.Split('/'))
        {
            if (part.Length == 0 || part == ".")
            {
                continue;
            }

            if (part == ".." && (absolute || (stack.Count > 0 && stack[^1] != "..")))
            {
                if (stack.Count > 0)
                {
                    stack.RemoveAt(stack.Count - 1);
                }

                continue;
            }

            stack.Add(part);
        }

        // As posixpath.normpath: POSIX leaves a path that starts with exactly two slashes to the implementation, so
        // they are kept; one, or three and more, become one.
        var joined = string.Join('/', stack);
        if (!absolute)
        {
            return joined.Length == 0 ? "." : joined;
        }

        return (path.StartsWith("//", StringComparison.Ordinal) && !path.StartsWith("///", StringComparison.Ordinal) ? "//" : "/") + joined;
    }

    private static string? GetString(IDictionary<string, object?> environ, string key) =>
        environ.TryGetValue(key, out var value) ? value as string : null;
}
