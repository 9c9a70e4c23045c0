using System.Buffers;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.Primitives;
using Microsoft.Net.Http.Headers;

namespace GatewayBridge;

/// <summary>Turns the request headers into <c>HTTP_*</c> environ entries.</summary>
internal static class EnvironHeaders
{
    public static KeyValuePair<string, object?>[] Capture(IHeaderDictionary requestHeaders, bool allowUnderscoreHeaders, out int count)
    {
        count = 0;
        var total = requestHeaders.Count;

        // Copied out in one call: enumerating the server's header collection through the interface boxes an
        // enumerator and costs two interface calls per header.
        var pairs = ArrayPool<KeyValuePair<string, StringValues>>.Shared.Rent(total);
        var headers = new KeyValuePair<string, object?>[total];
        try
        {
            requestHeaders.CopyTo(pairs, 0);
            for (var i = 0; i < total; i++)
            {
                var (name, values) = pairs[i];
                if (name.Length == 0 || name[0] == ':' ||
                    string.Equals(name, HeaderNames.ContentType, StringComparison.OrdinalIgnoreCase) ||
                    string.Equals(name, HeaderNames.ContentLength, StringComparison.OrdinalIgnoreCase))
                {
                    continue;
                }

                if (!allowUnderscoreHeaders)
                {
                    if (!name.Contains('_', StringComparison.Ordinal))
                    {
                        headers[count++] = new(HeaderKeys.For(name), JoinValues(name, values));
                    }

                    continue;
                }

                // X_Foo and X-Foo map to one key, in whichever order they came: keep both values rather than let one
                // hide the other, and never two entries for one key.
                var key = HeaderKeys.For(name);
                var value = JoinValues(name, values);
                var existing = Array.FindIndex(headers, 0, count, h => h.Key == key);
                if (existing >= 0)
                {
                    headers[existing] = new(key, (string?)headers[existing].Value + "," + value);
                }
                else
                {
                    headers[count++] = new(key, value);
                }
            }
        }
        finally
        {
            ArrayPool<KeyValuePair<string, StringValues>>.Shared.Return(pairs, clearArray: true);
        }

        return headers;
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
