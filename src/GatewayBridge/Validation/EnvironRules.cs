namespace GatewayBridge.Validation;

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
            Rules.Check(environ.ContainsKey(key), "environ.required-key", $"the environ has no '{key}'; PEP 3333 requires it.");
        }

        foreach (var twin in (string[])["HTTP_CONTENT_TYPE", "HTTP_CONTENT_LENGTH"])
        {
            Rules.Check(!environ.ContainsKey(twin), "environ.content-twin", $"the environ has '{twin}'; the header belongs in {twin[5..]} only.");
        }

        foreach (var (key, value) in environ)
        {
            if (!key.Contains('.', StringComparison.Ordinal))
            {
                Rules.Check(value is string, "environ.cgi-string", $"the CGI variable '{key}' is a {value?.GetType().Name ?? "null"}, not a string.");
            }
        }

        Rules.Check(environ[Environ.Version] is ValueTuple<int, int> { Item1: 1 }, "environ.version", "wsgi.version must be the tuple (1, 0) of two ints.");
        Rules.Check(environ[Environ.UrlScheme] is "http" or "https", "environ.url-scheme", $"wsgi.url_scheme is '{environ[Environ.UrlScheme]}', not 'http' or 'https'.");
        Rules.Check(environ[Environ.Input] is Stream { CanRead: true }, "environ.input-type", "wsgi.input must be a readable Stream.");
        Rules.Check(environ[Environ.Errors] is TextWriter, "environ.errors-type", "wsgi.errors must be a TextWriter.");
        foreach (var flag in (string[])[Environ.Multithread, Environ.Multiprocess, Environ.RunOnce])
        {
            Rules.Check(environ[flag] is bool, "environ.flag-type", $"{flag} must be a bool.");
        }

        if (environ.TryGetValue(Environ.InputTerminated, out var terminated))
        {
            Rules.Check(terminated is bool, "environ.flag-type", $"{Environ.InputTerminated} must be a bool.");
        }

        if (environ.TryGetValue(Environ.FileWrapper, out var wrapper))
        {
            Rules.Check(wrapper is Func<Stream, int, IEnumerable<byte[]>>, "environ.file-wrapper-type", "wsgi.file_wrapper must be a Func<Stream, int, IEnumerable<byte[]>>.");
        }

        var method = (string)environ[Environ.RequestMethod]!;
        Rules.Check(method.Length > 0 && method.All(c => char.IsAsciiLetterUpper(c) || c == '-' || c == '_'), "environ.request-method", $"REQUEST_METHOD '{method}' is not an HTTP method.");

        var scriptName = environ.TryGetValue(Environ.ScriptName, out var sn) ? (string?)sn ?? "" : "";
        var pathInfo = environ.TryGetValue(Environ.PathInfo, out var pi) ? (string?)pi ?? "" : "";
        Rules.Check(scriptName.Length == 0 || scriptName[0] == '/', "environ.script-name", $"SCRIPT_NAME '{scriptName}' must be empty or start with '/'.");
        Rules.Check(!scriptName.EndsWith('/'), "environ.script-name", $"SCRIPT_NAME '{scriptName}' must not end with '/'; at the root it is '' and PATH_INFO is '/'.");
        Rules.Check(pathInfo.Length == 0 || pathInfo[0] == '/', "environ.path-info", $"PATH_INFO '{pathInfo}' must be empty or start with '/'.");
        Rules.Check(environ.ContainsKey(Environ.ScriptName) || environ.ContainsKey(Environ.PathInfo), "environ.script-or-path", "the environ needs SCRIPT_NAME or PATH_INFO (PATH_INFO is at least '/' when SCRIPT_NAME is '').");

        if (environ.TryGetValue(Environ.QueryString, out var query))
        {
            var text = (string)query!;
            Rules.Check(!text.StartsWith('?') && !text.Contains('#', StringComparison.Ordinal), "environ.query-string", $"QUERY_STRING '{text}' must have neither the '?' nor a '#fragment'.");
        }

        if (environ.TryGetValue(Environ.ContentLength, out var length))
        {
            Rules.Check(ResponseRules.IsDigits((string?)length), "environ.content-length", $"CONTENT_LENGTH '{length}' must be digits.");
        }

        Rules.Check(ResponseRules.IsDigits((string?)environ[Environ.ServerPort]), "environ.server-port", $"SERVER_PORT '{environ[Environ.ServerPort]}' must be digits.");
    }
}
