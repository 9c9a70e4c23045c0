using System.Buffers;
using System.Globalization;
using Microsoft.AspNetCore.WebUtilities;

namespace GatewayBridge;

/// <summary>
/// The rules a status line and response headers must follow before anything reaches Kestrel (PEP 3333,
/// "The start_response() Callable"), shared by the server and the validator.
/// </summary>
internal static class ResponseRules
{
    // RFC 9110 token characters.
    private static readonly SearchValues<char> TokenChars =
        SearchValues.Create("!#$%&'*+-.^_`|~0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz");

    /// <summary>Parses <c>"NNN Reason"</c>; throws <see cref="ArgumentException"/> naming what is wrong.</summary>
    public static (int StatusCode, string Reason) ParseStatus(string status)
    {
        ArgumentNullException.ThrowIfNull(status);
        if (status.Length < 4 || !char.IsAsciiDigit(status[0]) || !char.IsAsciiDigit(status[1]) ||
            !char.IsAsciiDigit(status[2]) || status[3] != ' ')
        {
            throw new ArgumentException(
                $"The status '{Printable(status)}' is malformed: a gateway status is three digits, a space and a reason phrase, such as '200 OK'.",
                nameof(status));
        }

        var code = ((status[0] - '0') * 100) + ((status[1] - '0') * 10) + (status[2] - '0');
        if (code < 200)
        {
            throw new ArgumentException(
                $"The status '{Printable(status)}' is informational (1xx); the final response of a gateway app must be 200 or above. Kestrel sends '100 Continue' itself.",
                nameof(status));
        }

        // The usual phrase ("200 OK") is shared rather than cut out of the status again for every response.
        var standard = ReasonPhrases.GetReasonPhrase(code);
        if (status.AsSpan(4).SequenceEqual(standard))
        {
            return (code, standard);
        }

        var reason = status[4..];
        if (HasControlCharacter(reason))
        {
            throw new ArgumentException(
                $"The status '{Printable(status)}' has a control character in its reason phrase; CR or LF there would inject headers.",
                nameof(status));
        }

        return (code, reason);
    }

    /// <summary>
    /// Checks every header and copies them, so that a list the app changes later cannot smuggle in what was refused.
    /// Returns the declared Content-Length, if any.
    /// </summary>
    public static (string Name, string Value)[] ValidateHeaders(IList<(string Name, string Value)> headers, out long? contentLength)
    {
        ArgumentNullException.ThrowIfNull(headers);
        contentLength = null;
        var copy = headers.Count == 0 ? [] : new (string Name, string Value)[headers.Count];
        for (var i = 0; i < copy.Length; i++)
        {
            var (name, value) = headers[i];
            ValidateHeader(name, value);
            if (string.Equals(name, "Content-Length", StringComparison.OrdinalIgnoreCase))
            {
                var parsed = ParseContentLength(value);
                if (contentLength is not null && contentLength != parsed)
                {
                    throw new ArgumentException(
                        $"The response headers declare Content-Length twice with different values ({contentLength} and {parsed}).",
                        nameof(headers));
                }

                contentLength = parsed;
            }

            copy[i] = (name, value);
        }

        return copy;
    }

    public static void ValidateHeader(string? name, string? value)
    {
        ValidateHeaderText(name, value);
        if (GatewayUtil.IsHopByHop(name!))
        {
            throw new ArgumentException(
                $"The response header '{name}' is hop-by-hop; Kestrel manages the connection and the framing, so a gateway app must not send it (PEP 3333).",
                nameof(name));
        }
    }

    /// <summary>A header name must be a token and its value free of control characters.</summary>
    public static void ValidateHeaderText(string? name, string? value)
    {
        if (string.IsNullOrEmpty(name))
        {
            throw new ArgumentException("A response header has an empty name.", nameof(name));
        }

        if (!IsToken(name))
        {
            throw new ArgumentException(
                $"The response header name '{Printable(name)}' has a character that is not allowed in a header name (a space, a colon, a control character or a non-ASCII character).",
                nameof(name));
        }

        if (value is null)
        {
            throw new ArgumentException($"The response header '{name}' has a null value; send \"\" for an empty one.", nameof(value));
        }

        if (HasControlCharacter(value))
        {
            throw new ArgumentException(
                $"The response header '{name}' has a control character in its value; CR or LF would inject headers, so it is refused.",
                nameof(value));
        }
    }

    public static long ParseContentLength(string value)
    {
        if (!IsDigits(value) ||
            !long.TryParse(value, NumberStyles.None, CultureInfo.InvariantCulture, out var length))
        {
            throw new ArgumentException(
                $"The response header 'Content-Length' has the value '{Printable(value)}'; it must be a non-negative whole number of bytes.",
                nameof(value));
        }

        return length;
    }

    /// <summary>Whether <paramref name="name"/> is a non-empty RFC 9110 token, as a header name must be.</summary>
    public static bool IsToken(string name) => name.Length > 0 && !name.AsSpan().ContainsAnyExcept(TokenChars);

    /// <summary>Whether <paramref name="value"/> is non-empty and all ASCII digits.</summary>
    public static bool IsDigits(string? value) => !string.IsNullOrEmpty(value) && !value.AsSpan().ContainsAnyExceptInRange('0', '9');

    /// <summary>Whether <paramref name="value"/> has a control character other than a tab (CR and LF among them).</summary>
    public static bool HasControlCharacter(string value)
    {
        foreach (var c in value)
        {
            if ((c < 0x20 && c != '\t') || c == 0x7F)
            {
                return true;
            }
        }

        return false;
    }

    // Keeps CR/LF visible in error messages instead of breaking the log line the message ends up in.
    private static string Printable(string value) =>
        value.Replace("\r", "\\r", StringComparison.Ordinal).Replace("\n", "\\n", StringComparison.Ordinal);
}
