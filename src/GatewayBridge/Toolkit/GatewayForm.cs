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
    /// The query parameters of the request: repeated keys keep every value in order, <c>%XX</c> and <c>+</c> are
    /// decoded, and keys are case-sensitive. Lenient, as <c>parse_qs</c> is: malformed escapes stay as they are.
    /// </summary>
    /// <param name="environ">The request's environ.</param>
    /// <returns>Each key with its values; <c>form["name"][0]</c> is the first.</returns>
    public static IReadOnlyDictionary<string, StringValues> ParseQuery(IDictionary<string, object?> environ)
    {
        ArgumentNullException.ThrowIfNull(environ);
        var query = environ.TryGetValue(Environ.QueryString, out var value) ? value as string : null;

        // QueryHelpers.ParseQuery would fold keys that differ in case ("a" and "A"), which Python apps never saw.
        var fields = new Fields();
        foreach (var pair in new QueryStringEnumerable(query))
        {
            fields.Add(pair.DecodeName().ToString(), pair.DecodeValue().ToString());
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
