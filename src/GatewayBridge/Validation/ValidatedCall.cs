namespace GatewayBridge;

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
        Rules.Check(!_closed, RuleIds.IterableClosedTwice, "the iterable was disposed twice; the server must dispose it exactly once.");
        _closed = true;
    }

    public IEnumerable<byte[]> Wrap(IEnumerable<byte[]> result)
    {
        switch (result)
        {
            case FileWrapper:
                Rules.Check(Started, RuleIds.StartResponseMissing, "the app returned a file without calling start_response.");
                return result;
            case IList<byte[]> list:
                // A list is complete when it is returned, so start_response must have happened already, even for an
                // empty body.
                Rules.Check(Started, RuleIds.StartResponseMissing, "the app returned its body without calling start_response.");
                return new ValidatedList(list, this);
            default:
                return new ValidatedIterable(result, this);
        }
    }

    private WriteBody Start(string status, IList<(string Name, string Value)> headers, Exception? excInfo)
    {
        Rules.Check(status is not null, RuleIds.StatusType, "start_response got a null status.");
        Rules.Check(headers is not null, RuleIds.HeadersType, "start_response got a null header list.");
        Rules.Check(!Started || excInfo is not null, RuleIds.StartResponseTwice, "start_response was called a second time without excInfo.");
        Rules.Check(ResponseRules.CheckStatus(status, out var code, out _));
        CheckHeaders(headers, code);

        var write = _server(status, headers, excInfo);
        Started = true;
        return _write ??= data =>
        {
            Rules.Check(data is not null, RuleIds.WriteType, "write was called with null; pass a byte array.");
            Rules.Check(!_closed, RuleIds.WriteAfterClose, "write was called after the iterable was disposed.");
            write(data);
        };
    }

    // The server's checks, then what wsgiref.validate asks of an app beyond them.
    private static void CheckHeaders(IList<(string Name, string Value)> headers, int code)
    {
        var hasContentType = false;
        foreach (var (name, value) in headers)
        {
            Rules.Check(ResponseRules.CheckHeader(name, value));
            Rules.Check(!name.EndsWith('-') && !name.EndsWith('_'), RuleIds.HeadersName, $"the header name '{name}' must not end with '-' or '_'.");
            Rules.Check(!string.Equals(name, "Status", StringComparison.OrdinalIgnoreCase), RuleIds.HeadersStatus, "the 'Status' header cannot be used; the status is start_response's first argument.");
            hasContentType |= string.Equals(name, "Content-Type", StringComparison.OrdinalIgnoreCase);
        }

        if (code is 204 or 304)
        {
            Rules.Check(!hasContentType, RuleIds.HeadersContentType, $"a {code} response has no content, so it must not have a Content-Type.");
        }
        else
        {
            Rules.Check(hasContentType, RuleIds.HeadersContentType, $"a {code} response needs a Content-Type header.");
        }
    }
}
