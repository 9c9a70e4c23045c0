namespace GatewayBridge.Validation;

/// <summary>The app's side of one call: start_response, write, and the iterable it returns.</summary>
internal sealed class ValidatedCall
{
    private readonly StartResponse _server;
    private WriteBody? _write;
    private bool _closed;

    public ValidatedCall(StartResponse server)
    {
        _server = server;
        StartResponse = Start;
    }

    public StartResponse StartResponse { get; }

    public bool Started { get; private set; }

    public bool Closed => _closed;

    public void MarkClosed()
    {
        Rules.Check(!_closed, "iterable.closed-twice", "the iterable was disposed twice; the server must dispose it exactly once.");
        _closed = true;
    }

    public IEnumerable<byte[]> Wrap(IEnumerable<byte[]> result)
    {
        switch (result)
        {
            case FileWrapper:
                Rules.Check(Started, "iterable.before-start", "the app returned a body without calling start_response.");
                return result;
            case IList<byte[]> list:
                // A list is complete when it is returned, so start_response must have happened already.
                Rules.Check(Started || list.Count == 0 || list.All(c => c is { Length: 0 }), "iterable.before-start", "the app returned a body without calling start_response.");
                return new ValidatedList(list, this);
            default:
                return new ValidatedIterable(result, this);
        }
    }

    private WriteBody Start(string status, IList<(string Name, string Value)> headers, Exception? excInfo)
    {
        Rules.Check(status is not null, "status.type", "start_response got a null status.");
        Rules.Check(headers is not null, "headers.type", "start_response got a null header list.");
        Rules.Check(!Started || excInfo is not null, "start_response.twice", "start_response was called a second time without excInfo.");
        CheckStatus(status);
        var code = int.Parse(status.AsSpan(0, 3), provider: System.Globalization.CultureInfo.InvariantCulture);
        CheckHeaders(headers, code);

        var write = _server(status, headers, excInfo);
        Started = true;
        return _write ??= data =>
        {
            Rules.Check(data is not null, "write.type", "write was called with null; pass a byte array.");
            Rules.Check(!_closed, "write.after-close", "write was called after the iterable was disposed.");
            write(data);
        };
    }

    private static void CheckStatus(string status)
    {
        Rules.Check(status.Length >= 4 && char.IsAsciiDigit(status[0]) && char.IsAsciiDigit(status[1]) && char.IsAsciiDigit(status[2]) && status[3] == ' ', "status.format", $"the status '{status}' must be three digits, a space and a reason phrase, such as '200 OK'.");
        Rules.Check(status[0] != '0' && status[0] != '1', "status.code", $"the status '{status}' is not a final status (200 or above).");
        Rules.Check(!ResponseRules.HasControlCharacter(status), "status.control-chars", "the status has a control character.");
    }

    private static void CheckHeaders(IList<(string Name, string Value)> headers, int code)
    {
        var hasContentType = false;
        foreach (var (name, value) in headers)
        {
            Rules.Check(name is not null && value is not null, "headers.type", "a header has a null name or value.");
            Rules.Check(ResponseRules.IsToken(name), "headers.name", $"the header name '{name}' must be a token: no spaces, colons, separators or control characters.");
            Rules.Check(!name.EndsWith('-') && !name.EndsWith('_'), "headers.name", $"the header name '{name}' must not end with '-' or '_'.");
            Rules.Check(!string.Equals(name, "Status", StringComparison.OrdinalIgnoreCase), "headers.status", "the 'Status' header cannot be used; the status is start_response's first argument.");
            Rules.Check(!ResponseRules.HasControlCharacter(value), "headers.value", $"the value of header '{name}' has a control character (CR/LF would inject headers).");
            Rules.Check(!GatewayUtil.IsHopByHop(name), "headers.hop-by-hop", $"'{name}' is a hop-by-hop header; only the server may send it.");
            if (string.Equals(name, "Content-Length", StringComparison.OrdinalIgnoreCase))
            {
                Rules.Check(ResponseRules.IsDigits(value), "headers.content-length", $"Content-Length '{value}' must be digits.");
            }

            hasContentType |= string.Equals(name, "Content-Type", StringComparison.OrdinalIgnoreCase);
        }

        if (code is 204 or 304)
        {
            Rules.Check(!hasContentType, "headers.content-type", $"a {code} response has no content, so it must not have a Content-Type.");
        }
        else
        {
            Rules.Check(hasContentType, "headers.content-type", $"a {code} response needs a Content-Type header.");
        }
    }
}
