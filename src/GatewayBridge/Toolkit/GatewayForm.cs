using System.Runtime.InteropServices;
using System.Text;
using Microsoft.AspNetCore.WebUtilities;
using Microsoft.Extensions.Primitives;

namespace GatewayBridge;

/// <summary>
/// Reads query strings and urlencoded form bodies from an environ, for what Python apps got from
/// <c>urllib.parse.parse_qs</c> and <c>cgi.FieldStorage</c>. Built on ASP.NET Core's <c>QueryHelpers</c> and <c>FormReader</c>.
/// </summary>
public static class GatewayForm
{
    private const string UrlEncoded = "application/x-www-form-urlencoded";

    /// <summary>
    /// The query parameters of the request, as <c>urllib.parse.parse_qs(qs, keep_blank_values=True)</c> gives them:
    /// repeated keys keep every value in order, <c>%XX</c> and <c>+</c> are decoded (UTF-8, U+FFFD for bytes that are
    /// not), keys are case-sensitive, and malformed escapes stay as they are.
    /// </summary>
    /// <param name="environ">The request's environ.</param>
    /// <returns>Each key with its values; <c>form["name"][0]</c> is the first.</returns>
    public static IReadOnlyDictionary<string, StringValues> ParseQuery(IDictionary<string, object?> environ)
    {
        ArgumentNullException.ThrowIfNull(environ);
        var query = environ.TryGetValue(Environ.QueryString, out var value) ? value as string : null;

        // parse_qsl's own splitting: QueryHelpers would fold keys that differ in case ("a" and "A") and drop a leading
        // '?', which Python apps never saw.
        var fields = new Fields();
        var text = (query ?? "").AsSpan();
        foreach (var range in text.Split('&'))
        {
            var field = text[range];
            if (field.IsEmpty)
            {
                continue;
            }

            var equals = field.IndexOf('=');
            fields.Add(Unquote(equals < 0 ? field : field[..equals]), equals < 0 ? "" : Unquote(field[(equals + 1)..]));
        }

        return fields.Values;
    }

    /// <summary>
    /// Reads an <c>application/x-www-form-urlencoded</c> body from <c>wsgi.input</c>, within <paramref name="limits"/>.
    /// </summary>
    /// <param name="environ">The request's environ.</param>
    /// <param name="limits">Caps on the number and size of fields; <see langword="null"/> for the defaults.</param>
    /// <returns>Each field with its values.</returns>
    /// <exception cref="InvalidDataException">The body is not a urlencoded form, breaks a limit, or has a malformed
    /// <c>%</c> escape. Answer 400 (or 413 for a limit).</exception>
    public static IReadOnlyDictionary<string, StringValues> ReadForm(IDictionary<string, object?> environ, GatewayFormLimits? limits = null)
    {
        ArgumentNullException.ThrowIfNull(environ);
        limits ??= new GatewayFormLimits();
        var contentType = environ.TryGetValue(Environ.ContentType, out var ct) ? ct as string : null;
        var mediaType = contentType?.Split(';', 2)[0].Trim();
        if (!string.Equals(mediaType, UrlEncoded, StringComparison.OrdinalIgnoreCase))
        {
            throw new InvalidDataException($"The request body is '{contentType ?? "(no Content-Type)"}', not '{UrlEncoded}'.");
        }

        var input = environ[Environ.Input] as Stream ?? throw new InvalidDataException("The environ has no wsgi.input stream.");
        using var body = new MemoryStream();
        var buffer = new byte[4096];
        int read;
        while ((read = input.Read(buffer, 0, buffer.Length)) > 0)
        {
            body.Write(buffer, 0, read);
            if (body.Length > limits.MaxBodyLength)
            {
                throw new InvalidDataException($"The form body is longer than the limit of {limits.MaxBodyLength} bytes.");
            }
        }

        var bytes = body.GetBuffer().AsSpan(0, (int)body.Length);
        var badEscape = FindMalformedEscape(bytes);
        if (badEscape >= 0)
        {
            var snippet = Encoding.ASCII.GetString(bytes.Slice(badEscape, Math.Min(3, bytes.Length - badEscape)));
            throw new InvalidDataException($"The form body has a malformed percent escape '{snippet}' at byte {badEscape}; '%' must be followed by two hex digits.");
        }

        body.Position = 0;
        using var reader = new FormReader(body, Encoding.UTF8)
        {
            ValueCountLimit = limits.ValueCountLimit,
            KeyLengthLimit = limits.KeyLengthLimit,
            ValueLengthLimit = limits.ValueLengthLimit,
        };

        // Pair by pair rather than ReadForm(), whose dictionary folds keys that differ in case; the reader checks
        // the lengths, the count is checked here as ReadForm would.
        var fields = new Fields();
        var count = 0;
        while (reader.ReadNextPair() is { } pair)
        {
            if (++count > limits.ValueCountLimit)
            {
                throw new InvalidDataException($"The form has more than the limit of {limits.ValueCountLimit} fields.");
            }

            fields.Add(pair.Key, pair.Value);
        }

        return fields.Values;
    }

    // Keys with every value in order, compared as Python compares them.
    private sealed class Fields
    {
        public Dictionary<string, StringValues> Values { get; } = new(StringComparer.Ordinal);

        public void Add(string key, string value) =>
            Values[key] = Values.TryGetValue(key, out var existing) ? StringValues.Concat(existing, value) : value;
    }

    /// <summary>
    /// urllib's <c>unquote_plus</c> with UTF-8 and <c>errors='replace'</c>, as <c>parse_qsl</c> decodes: '+' is a space,
    /// each run of ASCII is percent-decoded to bytes and those bytes to UTF-8 (U+FFFD for what is not UTF-8),
    /// malformed escapes stay as written, and other characters are kept. ASP.NET's decoder leaves escapes that are not
    /// UTF-8 encoded instead, so a query an app built itself could read differently from what its Python original saw.
    /// </summary>
    internal static string Unquote(ReadOnlySpan<char> text)
    {
        if (!text.ContainsAny('%', '+'))
        {
            return text.ToString();
        }

        var result = new StringBuilder(text.Length);
        var bytes = new List<byte>();
        foreach (var c in text)
        {
            if (!char.IsAscii(c))
            {
                Flush();
                result.Append(c);
            }
            else
            {
                bytes.Add(c == '+' ? (byte)' ' : (byte)c);
            }
        }

        Flush();
        return result.ToString();

        void Flush()
        {
            if (bytes.Count == 0)
            {
                return;
            }

            var run = CollectionsMarshal.AsSpan(bytes);
            var decoded = new byte[run.Length];
            var length = 0;
            for (var i = 0; i < run.Length; i++)
            {
                if (run[i] == '%' && i + 2 < run.Length && char.IsAsciiHexDigit((char)run[i + 1]) && char.IsAsciiHexDigit((char)run[i + 2]))
                {
                    decoded[length++] = (byte)((HexValue(run[i + 1]) << 4) | HexValue(run[i + 2]));
                    i += 2;
                }
                else
                {
                    decoded[length++] = run[i];
                }
            }

            result.Append(Encoding.UTF8.GetString(decoded, 0, length));
            bytes.Clear();
        }
    }

    private static int HexValue(byte digit) => char.IsAsciiDigit((char)digit) ? digit - '0' : (digit | 0x20) - 'a' + 10;

    private static int FindMalformedEscape(ReadOnlySpan<byte> bytes)
    {
        for (var i = bytes.IndexOf((byte)'%'); i >= 0 && i < bytes.Length;)
        {
            if (i + 2 >= bytes.Length || !char.IsAsciiHexDigit((char)bytes[i + 1]) || !char.IsAsciiHexDigit((char)bytes[i + 2]))
            {
                return i;
            }

            var next = bytes[(i + 3)..].IndexOf((byte)'%');
            i = next < 0 ? -1 : i + 3 + next;
        }

        return -1;
    }
}

/// <summary>
/// Caps for <see cref="GatewayForm.ReadForm"/>, with ASP.NET Core's <c>FormOptions</c> defaults.
/// </summary>
public sealed class GatewayFormLimits
{
    /// <summary>The most fields a form may have. The default value is 1024.</summary>
    public int ValueCountLimit { get; set; } = 1024;

    /// <summary>The longest field name, in characters. The default value is 2048.</summary>
    public int KeyLengthLimit { get; set; } = 2048;

    /// <summary>The longest field value, in characters. The default value is 4194304 (4 MiB).</summary>
    public int ValueLengthLimit { get; set; } = 4 * 1024 * 1024;

    /// <summary>The longest body read, in bytes. The default value is 4194304 (4 MiB).</summary>
    public long MaxBodyLength { get; set; } = 4 * 1024 * 1024;
}
