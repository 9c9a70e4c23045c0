using System.Collections.Concurrent;
using System.Globalization;
using System.Text.Json;
using System.Text.Json.Nodes;
using GatewayBridge;

namespace UsersApi;

/// <summary>A stored user.</summary>
public sealed record User(int Id, string Name, string Email);

/// <summary>
/// A JSON resource written in the gateway style: one app that reads the method and PATH_INFO, with a
/// thread-safe in-memory store (gateway apps run on many threads at once: wsgi.multithread is true).
/// </summary>
public sealed class UsersApp
{
    private static readonly JsonSerializerOptions Json = new(JsonSerializerDefaults.Web);
    private readonly ConcurrentDictionary<int, User> _users = new();
    private int _lastId;

    /// <summary>The gateway app.</summary>
    public IEnumerable<byte[]> Handle(IDictionary<string, object?> environ, StartResponse startResponse)
    {
        var method = (string)environ[Environ.RequestMethod]!;
        var path = ((string)environ[Environ.PathInfo]!).TrimEnd('/');
        if (path == "/users")
        {
            return method switch
            {
                "GET" => Send(startResponse, "200 OK", _users.Values.OrderBy(u => u.Id)),
                "POST" => Create(environ, startResponse),
                _ => MethodNotAllowed(startResponse, "GET, POST"),
            };
        }

        if (!path.StartsWith("/users/", StringComparison.Ordinal) ||
            !int.TryParse(path["/users/".Length..], NumberStyles.None, CultureInfo.InvariantCulture, out var id))
        {
            return Error(startResponse, "404 Not Found", "No such resource.");
        }

        return method switch
        {
            "GET" => _users.TryGetValue(id, out var user) ? Send(startResponse, "200 OK", user) : NotFound(startResponse, id),
            "PUT" => Replace(environ, startResponse, id),
            "PATCH" => Update(environ, startResponse, id),
            "DELETE" => _users.TryRemove(id, out _) ? NoContent(startResponse) : NotFound(startResponse, id),
            _ => MethodNotAllowed(startResponse, "GET, PUT, PATCH, DELETE"),
        };
    }

    private IEnumerable<byte[]> Create(IDictionary<string, object?> environ, StartResponse startResponse)
    {
        if (!TryReadFields(environ, requireAll: true, out var name, out var email, out var problem))
        {
            return Error(startResponse, "400 Bad Request", problem);
        }

        var user = new User(Interlocked.Increment(ref _lastId), name!, email!);
        _users[user.Id] = user;
        return Send(startResponse, "201 Created", user, ("Location", $"{environ[Environ.ScriptName]}/users/{user.Id}"));
    }

    private IEnumerable<byte[]> Replace(IDictionary<string, object?> environ, StartResponse startResponse, int id)
    {
        if (!_users.ContainsKey(id))
        {
            return NotFound(startResponse, id);
        }

        if (!TryReadFields(environ, requireAll: true, out var name, out var email, out var problem))
        {
            return Error(startResponse, "400 Bad Request", problem);
        }

        var user = new User(id, name!, email!);
        _users[id] = user;
        return Send(startResponse, "200 OK", user);
    }

    private IEnumerable<byte[]> Update(IDictionary<string, object?> environ, StartResponse startResponse, int id)
    {
        if (!TryReadFields(environ, requireAll: false, out var name, out var email, out var problem))
        {
            return Error(startResponse, "400 Bad Request", problem);
        }

        while (_users.TryGetValue(id, out var current))
        {
            var updated = current with { Name = name ?? current.Name, Email = email ?? current.Email };
            if (_users.TryUpdate(id, updated, current))
            {
                return Send(startResponse, "200 OK", updated);
            }
        }

        return NotFound(startResponse, id);
    }

    private static bool TryReadFields(IDictionary<string, object?> environ, bool requireAll, out string? name, out string? email, out string problem)
    {
        name = email = null;
        JsonNode? body;
        try
        {
            body = JsonNode.Parse((Stream)environ[Environ.Input]!);
        }
        catch (JsonException ex)
        {
            problem = $"The body is not valid JSON: {ex.Message}";
            return false;
        }

        if (body is not JsonObject fields)
        {
            problem = "The body must be a JSON object with \"name\" and \"email\".";
            return false;
        }

        foreach (var (field, value) in fields)
        {
            var text = value is JsonValue v && v.TryGetValue<string>(out var s) && s.Length > 0 ? s : null;
            if (field is not ("name" or "email") || text is null)
            {
                problem = $"\"{field}\" is not a field of a user, or is not a non-empty string.";
                return false;
            }

            (name, email) = field == "name" ? (text, email) : (name, text);
        }

        var missing = requireAll ? (name is null ? "name" : email is null ? "email" : null) : null;
        problem = missing is null ? "" : $"The field \"{missing}\" is required.";
        return missing is null;
    }

    private static IEnumerable<byte[]> Send(StartResponse startResponse, string status, object value, params (string, string)[] extra)
    {
        startResponse(status, [("Content-Type", "application/json; charset=utf-8"), .. extra]);
        return [JsonSerializer.SerializeToUtf8Bytes(value, Json)];
    }

    private static IEnumerable<byte[]> Error(StartResponse startResponse, string status, string message) =>
        Send(startResponse, status, new { error = message });

    private static IEnumerable<byte[]> NotFound(StartResponse startResponse, int id) =>
        Error(startResponse, "404 Not Found", $"No user {id}.");

    private static IEnumerable<byte[]> MethodNotAllowed(StartResponse startResponse, string allow)
    {
        startResponse("405 Method Not Allowed", [("Content-Type", "application/json; charset=utf-8"), ("Allow", allow)]);
        return [JsonSerializer.SerializeToUtf8Bytes(new { error = $"Allowed: {allow}." }, Json)];
    }

    private static IEnumerable<byte[]> NoContent(StartResponse startResponse)
    {
        startResponse("204 No Content", []);
        return [];
    }
}
