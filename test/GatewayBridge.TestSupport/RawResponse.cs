using System.Globalization;
using System.Text;

namespace GatewayBridge.TestSupport;

/// <summary>An HTTP/1.1 response as read off a raw socket: status line, headers, and the body with chunking undone.</summary>
public sealed record RawResponse(string StatusLine, IReadOnlyList<(string Name, string Value)> Headers, string Body, bool Chunked, bool Complete)
{
    public string? Header(string name) =>
        Headers.Where(h => string.Equals(h.Name, name, StringComparison.OrdinalIgnoreCase)).Select(h => h.Value).FirstOrDefault();

    /// <summary>Parses one response; <see cref="Complete"/> says whether a chunked body had its terminator (or a sized one all its bytes).</summary>
    public static RawResponse Parse(string text)
    {
        var end = text.IndexOf("\r\n\r\n", StringComparison.Ordinal);
        Assert.True(end >= 0, $"No end of headers in: {text}");
        var lines = text[..end].Split("\r\n");
        var headers = lines.Skip(1).Select(l => l.Split(':', 2)).Select(p => (p[0].Trim(), p[1].Trim())).ToList();
        var rest = text[(end + 4)..];
        var chunked = headers.Any(h => h.Item1.Equals("Transfer-Encoding", StringComparison.OrdinalIgnoreCase) && h.Item2.Contains("chunked", StringComparison.OrdinalIgnoreCase));
        if (!chunked)
        {
            var length = headers.Where(h => h.Item1.Equals("Content-Length", StringComparison.OrdinalIgnoreCase)).Select(h => (int?)int.Parse(h.Item2, CultureInfo.InvariantCulture)).FirstOrDefault();
            return new RawResponse(lines[0], headers, length is int n && rest.Length >= n ? rest[..n] : rest, false, length is null || rest.Length >= length);
        }

        var body = new StringBuilder();
        var at = 0;
        while (true)
        {
            var lineEnd = rest.IndexOf("\r\n", at, StringComparison.Ordinal);
            if (lineEnd < 0)
            {
                return new RawResponse(lines[0], headers, body.ToString(), true, false);
            }

            var size = int.Parse(rest[at..lineEnd].Split(';')[0], NumberStyles.HexNumber, CultureInfo.InvariantCulture);
            if (size == 0)
            {
                return new RawResponse(lines[0], headers, body.ToString(), true, true);
            }

            if (lineEnd + 2 + size > rest.Length)
            {
                body.Append(rest[(lineEnd + 2)..]);
                return new RawResponse(lines[0], headers, body.ToString(), true, false);
            }

            body.Append(rest, lineEnd + 2, size);
            at = lineEnd + 2 + size + 2;
        }
    }
}
