namespace GatewayBridge;

/// <summary>
/// The identifiers of the gateway interface's rules, as <see cref="GatewayValidationException.Rule"/> reports them
/// (README lists them all). The server's own checks (<see cref="ResponseRules"/>) carry the same ids.
/// </summary>
internal static class RuleIds
{
    // What the server passes to the app.
    public const string EnvironType = "environ.type";
    public const string EnvironRequiredKey = "environ.required-key";
    public const string EnvironContentTwin = "environ.content-twin";
    public const string EnvironCgiString = "environ.cgi-string";
    public const string EnvironVersion = "environ.version";
    public const string EnvironUrlScheme = "environ.url-scheme";
    public const string EnvironInputType = "environ.input-type";
    public const string EnvironErrorsType = "environ.errors-type";
    public const string EnvironFlagType = "environ.flag-type";
    public const string EnvironFileWrapperType = "environ.file-wrapper-type";
    public const string EnvironRequestMethod = "environ.request-method";
    public const string EnvironScriptName = "environ.script-name";
    public const string EnvironPathInfo = "environ.path-info";
    public const string EnvironScriptOrPath = "environ.script-or-path";
    public const string EnvironQueryString = "environ.query-string";
    public const string EnvironContentLength = "environ.content-length";
    public const string EnvironServerPort = "environ.server-port";
    public const string StartResponseType = "start_response.type";
    public const string IterableClosedTwice = "iterable.closed-twice";
    public const string IterableEnumeratedTwice = "iterable.enumerated-twice";

    // What the app does.
    public const string IterableNull = "iterable.null";
    public const string StatusType = "status.type";
    public const string StatusFormat = "status.format";
    public const string StatusCode = "status.code";
    public const string StatusControlChars = "status.control-chars";
    public const string HeadersType = "headers.type";
    public const string HeadersName = "headers.name";
    public const string HeadersStatus = "headers.status";
    public const string HeadersValue = "headers.value";
    public const string HeadersHopByHop = "headers.hop-by-hop";
    public const string HeadersContentLength = "headers.content-length";
    public const string HeadersContentType = "headers.content-type";
    public const string StartResponseTwice = "start_response.twice";
    public const string StartResponseMissing = "start_response.missing";
    public const string WriteType = "write.type";
    public const string WriteAfterClose = "write.after-close";
    public const string IterableBeforeStart = "iterable.before-start";
    public const string IterableChunkType = "iterable.chunk-type";
    public const string IterableReadAfterClose = "iterable.read-after-close";
    public const string InputSeek = "input.seek";
    public const string InputWrite = "input.write";
    public const string InputClose = "input.close";
    public const string ErrorsClose = "errors.close";
}
