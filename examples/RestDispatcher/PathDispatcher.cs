using GatewayBridge;
using Microsoft.Extensions.Primitives;

namespace RestDispatcher;

/// <summary>
/// A gateway app that routes (method, path) pairs to handler apps, the classic "PathDispatcher" recipe.
/// Query and urlencoded form parameters are merged into <c>environ["dispatcher.params"]</c>.
/// </summary>
public sealed class PathDispatcher
{
    /// <summary>The environ key handlers read their parameters from.</summary>
    public const string ParamsKey = "dispatcher.params";

    private readonly Dictionary<(string Method, string Path), GatewayApp> _routes = [];

    /// <summary>Routes <paramref name="method"/> <paramref name="path"/> to <paramref name="handler"/>.</summary>
    public void Register(string method, string path, GatewayApp handler) =>
        _routes[(method.ToUpperInvariant(), path)] = handler;

    /// <summary>The gateway app.</summary>
    public IEnumerable<byte[]> Handle(IDictionary<string, object?> environ, StartResponse startResponse)
    {
        var parameters = new Dictionary<string, StringValues>(GatewayForm.ParseQuery(environ));
        if (environ.TryGetValue(Environ.ContentType, out var type) && type is string contentType &&
            contentType.StartsWith("application/x-www-form-urlencoded", StringComparison.OrdinalIgnoreCase))
        {
            IReadOnlyDictionary<string, StringValues> form;
            try
            {
                form = GatewayForm.ReadForm(environ);
            }
            catch (InvalidDataException ex)
            {
                return Responses.Text(startResponse, "400 Bad Request", ex.Message);
            }

            foreach (var (key, values) in form)
            {
                parameters[key] = StringValues.Concat(parameters.GetValueOrDefault(key), values);
            }
        }

        environ[ParamsKey] = parameters;
        var method = (string)environ[Environ.RequestMethod]!;
        var path = (string)environ[Environ.PathInfo]!;
        var handler = _routes.GetValueOrDefault((method, path), NotFound);
        return handler(environ, startResponse);
    }

    private static IEnumerable<byte[]> NotFound(IDictionary<string, object?> environ, StartResponse startResponse) =>
        Responses.Text(startResponse, "404 Not Found", "Not Found");
}
