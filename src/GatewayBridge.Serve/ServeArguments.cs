using System.Globalization;

namespace GatewayBridge.Serve;

/// <summary>
/// The parsed command line of <c>serve</c>: a .NET app (assembly and method) or a Python one (app spec, or a PasteDeploy
/// file), with gunicorn's flags and uvicorn's spellings of them (<see cref="ServeFlags"/> lists them all).
/// </summary>
internal sealed record ServeArguments(
    string? AssemblyPath, string? MethodPath, string? AppSpec, IReadOnlyList<string> Addresses, bool Validate, ProxyArguments Proxy,
    string? HealthPath, string? StatusPath, ServeLogging Logging, TlsFiles? Tls, string? RootPath, bool CheckConfig, PythonArguments Python)
{
    /// <summary>Kestrel's <c>--urls</c> spelling of every address it listens on, ';'-separated.</summary>
    public string Urls => string.Join(';', Addresses);

    /// <summary>Whether proxies' X-Forwarded-* headers are trusted (<c>--forwarded-headers</c>, <c>--proxy-headers</c>).</summary>
    public bool ForwardedHeaders => Proxy.Enabled;

    /// <summary>Parses <paramref name="args"/>, starting with "serve"; throws <see cref="ArgumentException"/> naming the flag at fault.</summary>
    public static ServeArguments Parse(string[] args)
    {
        var state = new ServeFlags.State();
        var positional = new List<string>();
        for (var i = 0; i < args.Length; i++)
        {
            var arg = args[i];
            if (arg.Length < 2 || arg[0] != '-' || arg == "--")
            {
                positional.Add(arg);
                continue;
            }

            // --flag=value, as gunicorn's and uvicorn's parsers take it too.
            var equals = arg.StartsWith("--", StringComparison.Ordinal) ? arg.IndexOf('=', StringComparison.Ordinal) : -1;
            var name = equals > 0 ? arg[..equals] : arg;
            string? attached = null;
            if (equals < 0 && arg[1] != '-' && arg.Length > 2 && ServeFlags.Find(arg[..2]) is { Value: not null })
            {
                // -w4, -b127.0.0.1:8000: a short flag's value may follow it at once, as getopt takes it.
                (name, attached) = (arg[..2], arg[2..]);
            }

            var flag = ServeFlags.Find(name) ?? throw new ArgumentException(ServeFlags.Unknown(name));
            string? value = null;
            if (flag.Value is not null)
            {
                value = attached ?? (equals > 0 ? arg[(equals + 1)..]
                    : i + 1 < args.Length ? args[++i]
                    : throw new ArgumentException($"{name} needs a value ({flag.Value})."));
            }
            else if (equals > 0)
            {
                throw new ArgumentException($"{name} takes no value.");
            }

            flag.Apply(state, name, value);
            if (flag.IsPython)
            {
                state.PythonFlagName ??= name;
            }
        }

        var addresses = state.Addresses();
        var spec = state.Python.PasteSpec;
        if (spec is not null && positional is ["serve"])
        {
            positional.Add(spec);
        }

        return positional switch
        {
            ["serve", var app] when app.Contains(':', StringComparison.Ordinal) || !app.EndsWith(".dll", StringComparison.OrdinalIgnoreCase) =>
                spec is not null && spec != app
                    ? throw new ArgumentException($"--paste names the app: give it without '{app}'.")
                    : state.Build(null, null, app, addresses),
            ["serve", var assembly, var method] when !state.PythonFlagGiven =>
                state.Build(assembly, method, null, addresses),
            ["serve", _, _] => throw new ArgumentException($"{state.PythonFlagName} is for Python apps (serve module:callable)."),
            _ => throw new ArgumentException("Expected: serve <module:callable>, serve --paste FILE[#name], or serve <App.dll> <Namespace.Type.Method>."),
        };
    }
}

/// <summary>Where Kestrel listens with HTTPS: <c>--certfile</c> and <c>--keyfile</c> (PEM files).</summary>
internal sealed record TlsFiles(string CertFile, string? KeyFile);

/// <summary>
/// Whose X-Forwarded-* headers are trusted: none, or those from <paramref name="AllowedIps"/> (loopback when not given;
/// "*" for any, as uvicorn's <c>--forwarded-allow-ips</c>).
/// </summary>
internal sealed record ProxyArguments(bool Enabled, IReadOnlyList<string> AllowedIps);

/// <summary>The access log: <c>--access-logfile</c> (a path, or "-" for stdout) in <c>--access-logformat</c> (gunicorn's atoms).</summary>
internal sealed record ServeLogging(string? AccessLogFile, string AccessLogFormat)
{
    /// <summary>gunicorn's default access log format.</summary>
    public const string DefaultFormat = "%(h)s %(l)s %(u)s %(t)s \"%(r)s\" %(s)s %(b)s \"%(f)s\" \"%(a)s\"";
}

/// <summary>gunicorn's flags for a Python app, as <see cref="Python.PythonOptions"/> takes them.</summary>
internal sealed class PythonArguments
{
    public string Python { get; set; } = "python3";

    public string Chdir { get; set; } = Directory.GetCurrentDirectory();

    /// <summary>"wsgi" or "asgi", or <see langword="null"/>: told by what the callable looks like, as Granian's --interface.</summary>
    public string? Interface { get; set; }

    public int Workers { get; set; }

    public int? Threads { get; set; }

    /// <summary>gunicorn's default is 30 s; 0 means never, as gunicorn's --timeout 0 does.</summary>
    public TimeSpan? Timeout { get; set; } = TimeSpan.FromSeconds(30);

    public int MaxRequests { get; set; }

    public int MaxRequestsJitter { get; set; }

    public long? MaxWorkerMemory { get; set; }

    public TimeSpan GracefulTimeout { get; set; } = TimeSpan.FromSeconds(30);

    /// <summary>Import the app once and fork the workers from it (<c>--preload</c>).</summary>
    public bool Preload { get; set; }

    /// <summary>A callable (<c>module:function</c>) each worker calls once it has the app (<c>--post-fork</c>).</summary>
    public string? PostFork { get; set; }

    /// <summary>Replace the workers when a source file changes (<c>--reload</c>).</summary>
    public bool Reload { get; set; }

    /// <summary>More patterns of files whose change reloads (<c>--reload-include</c>), beside <c>*.py</c>.</summary>
    public List<string> ReloadIncludes { get; } = [];

    /// <summary>The app of a PasteDeploy file, as the app spec the Python side loads (<c>paste:/abs/file.ini#name</c>).</summary>
    public string? PasteSpec { get; set; }

    internal static int Whole(string option, string value, int min) =>
        int.TryParse(value, NumberStyles.None, CultureInfo.InvariantCulture, out var n) && n >= min
            ? n
            : throw new ArgumentException($"{option} needs a whole number of at least {min}, not '{value}'.");
}
