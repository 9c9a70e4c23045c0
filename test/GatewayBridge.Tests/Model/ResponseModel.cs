namespace GatewayBridge.Tests.Model;

/// <summary>What a client must see for a generated app: PEP 3333's rules plus HTTP/1.1 framing.</summary>
/// <param name="Status">The status code on the wire.</param>
/// <param name="Body">Exactly the body bytes the client receives.</param>
/// <param name="Complete">Whether the response ends cleanly (all declared bytes, or the chunked terminator).</param>
/// <param name="FailedAfterStart">Whether the app failed once its headers were due, so the response was broken off.</param>
/// <param name="Headers">
/// The headers of <see cref="ResponseScript.CheckedHeaders"/> the client sees, in order per name; null when the response
/// is ASP.NET's own 500 (its exception handling sets headers of its own).
/// </param>
public sealed record ExpectedResponse(int Status, byte[] Body, bool Complete, bool FailedAfterStart, IReadOnlyList<(string Name, string Value)>? Headers)
{
    /// <summary>Runs the script against the model.</summary>
    public static ExpectedResponse Of(ResponseScript script, string method)
    {
        var status = script.Code;
        string? restarted = null;
        var declared = script.Declared;
        var headersDue = false; // PEP 3333: the first non-empty chunk, the first write(), or the end of the body
        var produced = 0;       // bytes produced so far, in order; the i-th is ResponseScript.ByteAt(i)
        var returned = 0;       // bytes of a list or file body: they go out only once the app has returned
        var failed = false;

        foreach (var step in script.Steps)
        {
            switch (step)
            {
                case Chunk c when script.Kind == BodyKind.Iterator:
                    headersDue |= c.Size > 0;
                    produced += c.Size;
                    break;
                case Chunk c:
                    returned += c.Size;
                    break;
                case Write w:
                    headersDue = true;
                    produced += w.Size;
                    break;
                case Restart r when !headersDue:
                    status = r.Code;
                    restarted = r.Code.ToString(System.Globalization.CultureInfo.InvariantCulture);
                    declared = null;
                    break;
                case Restart or Fail:
                    failed = true;
                    break;
            }

            if (failed)
            {
                break;
            }
        }

        if (failed && !headersDue)
        {
            // Nothing was due: ASP.NET's exception handling answers, with no body.
            return new ExpectedResponse(500, [], true, false, null);
        }

        if (!failed)
        {
            produced += script.Kind == BodyKind.File ? script.FileSize : returned;
        }

        // What goes out of what was produced: nothing without a body; a declared length cuts the rest, and a body
        // shorter than it ends the connection (incomplete), as does a failure once headers are due.
        var bodyAllowed = method != "HEAD" && status is not (204 or 205 or 304);
        var sent = bodyAllowed ? (int)Math.Min(produced, declared ?? long.MaxValue) : 0;
        // Once every declared byte is out, the response is complete on the wire whatever the app does next.
        var complete = bodyAllowed && declared is long length ? produced >= length : !failed;
        // Headers come from the last start_response that counted: a restart's replace the first call's entirely.
        IReadOnlyList<(string, string)> headers = restarted is null ? [("X-Start", "1"), .. script.Headers] : [("X-Restart", restarted)];
        return new ExpectedResponse(status, ResponseScript.Bytes(0, sent), complete, failed, headers);
    }
}
