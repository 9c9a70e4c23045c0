using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Http.Features;
using Microsoft.AspNetCore.WebUtilities;
using Microsoft.Extensions.Primitives;

namespace GatewayBridge;

/// <summary>
/// The status line and headers of a response as they go on Kestrel's response, and the framing that follows from
/// them: whether a body may be sent at all, and the Content-Length it must keep to.
/// </summary>
internal readonly record struct ResponseHead(bool BodyAllowed, long? Limit)
{
    /// <summary>
    /// Sets status, reason and headers on the response without starting it (so that headers and a first chunk can go
    /// out in one write). <paramref name="autoLength"/> is the body's length when the whole body is known.
    /// </summary>
    public static ResponseHead Apply(
        HttpContext context, int status, string reason, (string Name, string Value)[] headers, long? declaredLength, long? autoLength)
    {
        var response = context.Response;
        response.StatusCode = status;
        if (!string.Equals(reason, ReasonPhrases.GetReasonPhrase(status), StringComparison.Ordinal))
        {
            context.Features.GetRequiredFeature<IHttpResponseFeature>().ReasonPhrase = reason;
        }

        var responseHeaders = response.Headers;
        foreach (var (name, value) in headers)
        {
            if (!string.Equals(name, "Content-Length", StringComparison.OrdinalIgnoreCase))
            {
                // Not IHeaderDictionary.Append: it drops an empty value, which HTTP allows and the app chose to send.
                responseHeaders[name] = StringValues.Concat(responseHeaders[name], value);
            }
        }

        // RFC 9110: 204 and 304 never have content, and a 205 must not send any either (Kestrel refuses to write one).
        // A 204 must not carry a Content-Length either, nor a 205 one above 0, and Kestrel throws on them; apps send
        // them all the same (Django's CommonMiddleware gives every response its length), so the bridge sends what HTTP
        // allows (none on a 204, 0 on a 205) rather than a 500.
        var statusHasBody = status is not (204 or 205 or 304);
        var bodyAllowed = statusHasBody && !HttpMethods.IsHead(context.Request.Method);
        if (declaredLength is long declared && status != 204)
        {
            response.ContentLength = status == 205 ? 0 : declared;
            return new(bodyAllowed, declared);
        }

        if (autoLength is long length && statusHasBody)
        {
            response.ContentLength = length;
            return new(bodyAllowed, length);
        }

        return new(bodyAllowed, null);
    }
}
