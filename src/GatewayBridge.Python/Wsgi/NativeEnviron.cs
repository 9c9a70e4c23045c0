using System.Globalization;
using System.Text;

namespace GatewayBridge.Python;

/// <summary>
/// The environ as a Python app sees it (PEP 3333 "native strings": each str holds latin-1-decoded bytes), packed
/// into one string of <c>key\0value</c> pairs so that it crosses into Python in one piece. The shim adds the
/// <c>wsgi.*</c> objects.
/// </summary>
internal static class NativeEnviron
{
    /// <summary>
    /// The environ with the app span's <c>traceparent</c> and <c>tracestate</c> in place of the client's (the later pair
    /// of a key wins when the shim makes the environ a dict), or as it is when the request is not traced.
    /// </summary>
    public static string WithTrace(string environ, (string Parent, string? State)? trace) =>
        trace is not { } t ? environ
            : environ + "\0HTTP_TRACEPARENT\0" + t.Parent + (t.State is { Length: > 0 } state ? "\0HTTP_TRACESTATE\0" + Native(state) : "");

    public static string Build(EnvironDictionary environ)
    {
        var text = new StringBuilder(1024);
        var (scriptName, pathInfo) = Path(environ);
        foreach (var key in EnvironTable.Keys)
        {
            // The wsgi.* objects are Python's own (the shim makes them), and the bridge's keys mean nothing there:
            // reading them would open a wsgi.errors writer and a token for every request.
            if (key.Name.Contains('.', StringComparison.Ordinal) && key.Name != Environ.UrlScheme)
            {
                continue;
            }

            var value = key.Name switch
            {
                Environ.ScriptName => scriptName,
                Environ.PathInfo => pathInfo,
                _ => environ.TryGetValue(key.Name, out var v) && v is string s ? Native(s) : null,
            };
            if (value is not null)
            {
                Append(text, key.Name, value);
            }
        }

        foreach (var (key, value) in environ.HttpHeaders)
        {
            Append(text, key, Native((string)value!));
        }

        return text.ToString(0, text.Length - 1);
    }

    /// <summary>
    /// A .NET string as PEP 3333's native string of its bytes on the wire: UTF-8 text (what Kestrel decodes) becomes
    /// one char per byte, as gunicorn's latin-1 decoding gives it.
    /// </summary>
    public static string Native(string value) =>
        Ascii.IsValid(value) ? value : Encoding.Latin1.GetString(Encoding.UTF8.GetBytes(value));

    /// <summary>
    /// SCRIPT_NAME and PATH_INFO as gunicorn gives them: PATH_INFO percent-decoded from the raw target to bytes,
    /// <c>%2F</c> and invalid UTF-8 included (ASP.NET keeps both encoded in <c>Request.Path</c>).
    /// </summary>
    public static (string ScriptName, string PathInfo) Path(EnvironDictionary environ)
    {
        var scriptName = (string)environ[Environ.ScriptName]!;
        var pathInfo = (string)environ[Environ.PathInfo]!;
        var raw = RequestPath.RawPathInfo(pathInfo, (string)environ[Environ.RequestUri]!);
        return (Native(scriptName), raw is null ? Native(pathInfo).Replace("%2F", "/", StringComparison.OrdinalIgnoreCase) : Unquote(raw));
    }

    /// <summary>urllib's <c>unquote_to_bytes</c>, then latin-1: each <c>%XX</c> becomes the char XX; a malformed escape stays.</summary>
    public static string Unquote(ReadOnlySpan<char> raw)
    {
        if (!raw.Contains('%'))
        {
            return raw.ToString();
        }

        var result = new StringBuilder(raw.Length);
        for (var i = 0; i < raw.Length; i++)
        {
            if (raw[i] == '%' && i + 2 < raw.Length && char.IsAsciiHexDigit(raw[i + 1]) && char.IsAsciiHexDigit(raw[i + 2]))
            {
                result.Append((char)byte.Parse(raw.Slice(i + 1, 2), NumberStyles.AllowHexSpecifier, CultureInfo.InvariantCulture));
                i += 2;
            }
            else
            {
                result.Append(raw[i]);
            }
        }

        return result.ToString();
    }

    private static void Append(StringBuilder text, string key, string value) =>
        text.Append(key).Append('\0').Append(value).Append('\0');
}
