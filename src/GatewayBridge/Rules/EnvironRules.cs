namespace GatewayBridge;

/// <summary>The server's side of the contract: what every environ must hold.</summary>
internal static class EnvironRules
{
    private static readonly string[] Required =
    [
        Environ.RequestMethod, Environ.ServerName, Environ.ServerPort, Environ.ServerProtocol, Environ.Version,
        Environ.UrlScheme, Environ.Input, Environ.Errors, Environ.Multithread, Environ.Multiprocess, Environ.RunOnce,
    ];

    public static void Check(IDictionary<string, object?> environ)
    {
        foreach (var key in Required)
        {
            Rules.Check(environ.ContainsKey(key), RuleIds.EnvironRequiredKey, $"the environ has no '{key}'; PEP 3333 requires it.");
        }

        foreach (var twin in (string[])["HTTP_CONTENT_TYPE", "HTTP_CONTENT_LENGTH"])
        {
            Rules.Check(!environ.ContainsKey(twin), RuleIds.EnvironContentTwin, $"the environ has '{twin}'; the header belongs in {twin[5..]} only.");
        }

        foreach (var (key, value) in environ)
        {
            if (!key.Contains('.', StringComparison.Ordinal))
            {
                Rules.Check(value is string, RuleIds.EnvironCgiString, $"the CGI variable '{key}' is a {value?.GetType().Name ?? "null"}, not a string.");
            }
        }

        Rules.Check(environ[Environ.Version] is ValueTuple<int, int> { Item1: 1 }, RuleIds.EnvironVersion, "wsgi.version must be the tuple (1, 0) of two ints.");
        Rules.Check(environ[Environ.UrlScheme] is "http" or "https", RuleIds.EnvironUrlScheme, $"wsgi.url_scheme is '{environ[Environ.UrlScheme]}', not 'http' or 'https'.");
        Rules.Check(environ[Environ.Input] is Stream { CanRead: true }, RuleIds.EnvironInputType, "wsgi.input must be a readable Stream.");
        Rules.Check(environ[Environ.Errors] is TextWriter, RuleIds.EnvironErrorsType, "wsgi.errors must be a TextWriter.");
        foreach (var flag in (string[])[Environ.Multithread, Environ.Multiprocess, Environ.RunOnce])
        {
            Rules.Check(environ[flag] is bool, RuleIds.EnvironFlagType, $"{flag} must be a bool.");
        }

        if (environ.TryGetValue(Environ.InputTerminated, out var terminated))
        {
            Rules.Check(terminated is bool, RuleIds.EnvironFlagType, $"{Environ.InputTerminated} must be a bool.");
        }

        if (environ.TryGetValue(Environ.FileWrapper, out var wrapper))
        {
            Rules.Check(wrapper is Func<Stream, int, IEnumerable<byte[]>>, RuleIds.EnvironFileWrapperType, "wsgi.file_wrapper must be a Func<Stream, int, IEnumerable<byte[]>>.");
        }

        var method = (string)environ[Environ.RequestMethod]!;
        Rules.Check(method.Length > 0 && method.All(c => char.IsAsciiLetterUpper(c) || c == '-' || c == '_'), RuleIds.EnvironRequestMethod, $"REQUEST_METHOD '{method}' is not an HTTP method.");

        // Both are strings here: environ.cgi-string above refused anything else.
        var scriptName = environ.TryGetValue(Environ.ScriptName, out var sn) ? (string)sn! : "";
        var pathInfo = environ.TryGetValue(Environ.PathInfo, out var pi) ? (string)pi! : "";
        Rules.Check(scriptName.Length == 0 || scriptName[0] == '/', RuleIds.EnvironScriptName, $"SCRIPT_NAME '{scriptName}' must be empty or start with '/'.");
        Rules.Check(!scriptName.EndsWith('/'), RuleIds.EnvironScriptName, $"SCRIPT_NAME '{scriptName}' must not end with '/'; at the root it is '' and PATH_INFO is '/'.");
        Rules.Check(pathInfo.Length == 0 || pathInfo[0] == '/', RuleIds.EnvironPathInfo, $"PATH_INFO '{pathInfo}' must be empty or start with '/'.");
        Rules.Check(environ.ContainsKey(Environ.ScriptName) || environ.ContainsKey(Environ.PathInfo), RuleIds.EnvironScriptOrPath, "the environ needs SCRIPT_NAME or PATH_INFO (PATH_INFO is at least '/' when SCRIPT_NAME is '').");

        if (environ.TryGetValue(Environ.QueryString, out var query))
        {
            var text = (string)query!;
            Rules.Check(!text.StartsWith('?') && !text.Contains('#', StringComparison.Ordinal), RuleIds.EnvironQueryString, $"QUERY_STRING '{text}' must have neither the '?' nor a '#fragment'.");
        }

        if (environ.TryGetValue(Environ.ContentLength, out var length))
        {
            Rules.Check(ResponseRules.IsDigits((string?)length), RuleIds.EnvironContentLength, $"CONTENT_LENGTH '{length}' must be digits.");
        }

        Rules.Check(ResponseRules.IsDigits((string?)environ[Environ.ServerPort]), RuleIds.EnvironServerPort, $"SERVER_PORT '{environ[Environ.ServerPort]}' must be digits.");
    }
}
