using System.Buffers;
using System.Globalization;
using Microsoft.AspNetCore.WebUtilities;

namespace GatewayBridge;

/// <summary>
/// The rules a status line and response headers must follow before anything reaches Kestrel (PEP 3333,
/// "The start_response() Callable"): the one home of these checks, for the server and the validator alike.
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
        return CheckStatus(status, out var code, out var reason) is { } violation
            ? throw new ArgumentException(violation.Message, nameof(status))
            : (code, reason);
    }

    public static RuleViolation? CheckStatus(string status, out int code, out string reason)
    {
        code = 0;
        reason = "";
        if (status.Length < 4 || !char.IsAsciiDigit(status[0]) || !char.IsAsciiDigit(status[1]) ||
            !char.IsAsciiDigit(status[2]) || status[3] != ' ')
        {
            return new(RuleIds.StatusFormat,
                $"The status '{Printable(status)}' is malformed: a gateway status is three digits, a space and a reason phrase, such as '200 OK'.");
        }

        code = ((status[0] - '0') * 100) + ((status[1] - '0') * 10) + (status[2] - '0');
        if (code < 200)
        {
            return new(RuleIds.StatusCode,
                $"The status '{Printable(status)}' is not a final status: the response of a gateway app must be 200 or above (Kestrel sends '100 Continue' itself).");
        }

        // The usual phrase ("200 OK") is shared rather than cut out of the status again for every response.
        var standard = ReasonPhrases.GetReasonPhrase(code);
        if (status.AsSpan(4).SequenceEqual(standard))
        {
            reason = standard;
            return null;
        }

        reason = status[4..];
        return HasControlCharacter(reason)
            ? new(RuleIds.StatusControlChars,
                $"The status '{Printable(status)}' has a control character in its reason phrase; CR or LF there would inject headers.")
            : null;
    }

    /// <summary>
    /// Checks every header and copies them, so that a list the app changes later cannot smuggle in what was refused.
    /// Returns the declared Content-Length, if any; throws <see cref="ArgumentException"/> naming the header.
    /// </summary>
    public static (string Name, string Value)[] ValidateHeaders(IList<(string Name, string Value)> headers, out long? contentLength)
    {
        ArgumentNullException.ThrowIfNull(headers);
        contentLength = null;
        var copy = headers.Count == 0 ? [] : new (string Name, string Value)[headers.Count];
        for (var i = 0; i < copy.Length; i++)
        {
            var (name, value) = headers[i];
            if (CheckHeader(name, value) is { } violation)
            {
                throw new ArgumentException(violation.Message, nameof(headers));
            }

            if (string.Equals(name, "Content-Length", StringComparison.OrdinalIgnoreCase))
            {
                var parsed = long.Parse(value, NumberStyles.None, CultureInfo.InvariantCulture);
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

    /// <summary>A header name must be a token, its value free of control characters; neither may be hop-by-hop.</summary>
    public static RuleViolation? CheckHeader(string? name, string? value)
    {
        if (CheckHeaderText(name, value) is { } violation)
        {
            return violation;
        }

        if (GatewayUtil.IsHopByHop(name!))
        {
            return new(RuleIds.HeadersHopByHop,
                $"The response header '{name}' is hop-by-hop; Kestrel manages the connection and the framing, so a gateway app must not send it (PEP 3333).");
        }

        if (string.Equals(name, "Content-Length", StringComparison.OrdinalIgnoreCase) && !IsContentLength(value!))
        {
            return new(RuleIds.HeadersContentLength,
                $"The response header 'Content-Length' has the value '{Printable(value!)}'; it must be a non-negative whole number of bytes.");
        }

        return null;
    }

    /// <summary>The checks that hold for any header, wherever it is sent: a token name and a value without control characters.</summary>
    public static RuleViolation? CheckHeaderText(string? name, string? value)
    {
        if (name is null || value is null)
        {
            return new(RuleIds.HeadersType,
                name is null ? "A response header has a null name." : $"The response header '{name}' has a null value; send \"\" for an empty one.");
        }

        if (!IsToken(name))
        {
            return new(RuleIds.HeadersName, name.Length == 0
                ? "A response header has an empty name."
                : $"The response header name '{Printable(name)}' has a character that is not allowed in a header name (a space, a colon, a separator, a control character or a non-ASCII character).");
        }

        return HasControlCharacter(value)
            ? new(RuleIds.HeadersValue,
                $"The response header '{name}' has a control character in its value; CR or LF would inject headers, so it is refused.")
            : null;
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

    private static bool IsContentLength(string value) =>
        IsDigits(value) && long.TryParse(value, NumberStyles.None, CultureInfo.InvariantCulture, out _);

    // Keeps CR/LF visible in error messages instead of breaking the log line the message ends up in.
    private static string Printable(string value) =>
        value.Replace("\r", "\\r", StringComparison.Ordinal).Replace("\n", "\\n", StringComparison.Ordinal);
}
