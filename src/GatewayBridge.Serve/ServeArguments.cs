using System.Globalization;

namespace GatewayBridge.Serve;

/// <summary>The parsed command line of <c>serve</c>: a .NET app (assembly and method) or a Python one (app spec).</summary>
internal sealed record ServeArguments(
    string? AssemblyPath, string? MethodPath, string? AppSpec, string Urls, bool Validate, bool ForwardedHeaders, string? HealthPath,
    PythonArguments Python)
{
    public static ServeArguments Parse(string[] args)
    {
        var positional = new List<string>();
        var urls = "http://127.0.0.1:8000";
        string? healthPath = null;
        var python = new PythonArguments();
        bool validate = false, forwarded = false, pythonOption = false;
        for (var i = 0; i < args.Length; i++)
        {
            var option = args[i];
            var isPython = PythonArguments.Options.Contains(option);
            if ((isPython || option is "--urls" or "--health-path") && i + 1 >= args.Length)
            {
                throw new ArgumentException($"{option} needs a value.");
            }

            switch (option)
            {
                case "--urls":
                    urls = args[++i];
                    break;
                case "--health-path":
                    healthPath = args[++i].StartsWith('/') ? args[i] : throw new ArgumentException($"--health-path needs a path that starts with '/', not '{args[i]}'.");
                    break;
                case "--validate":
                    validate = true;
                    break;
                case "--forwarded-headers":
                    forwarded = true;
                    break;
                case var name when isPython:
                    python.Set(name, args[++i]);
                    pythonOption = true;
                    break;
                case var name when name.StartsWith("--", StringComparison.Ordinal):
                    throw new ArgumentException($"Unknown option '{name}'.");
                default:
                    positional.Add(option);
                    break;
            }
        }

        return positional switch
        {
            ["serve", var spec] when spec.Contains(':', StringComparison.Ordinal) || !spec.EndsWith(".dll", StringComparison.OrdinalIgnoreCase) =>
                new ServeArguments(null, null, spec, urls, validate, forwarded, healthPath, python),
            ["serve", var assembly, var method] when !pythonOption =>
                new ServeArguments(assembly, method, null, urls, validate, forwarded, healthPath, python),
            ["serve", _, _] => throw new ArgumentException($"{string.Join(", ", PythonArguments.Options)} are for Python apps (serve module:callable)."),
            _ => throw new ArgumentException("Expected: serve <App.dll> <Namespace.Type.Method>, or serve <module:callable>."),
        };
    }
}

/// <summary>gunicorn's flags for a Python app, as <see cref="Python.PythonOptions"/> takes them.</summary>
internal sealed class PythonArguments
{
    public static readonly string[] Options =
        ["--python", "--chdir", "--interface", "--workers", "--threads", "--timeout", "--max-requests", "--max-requests-jitter", "--max-worker-memory", "--graceful-timeout"];

    public string Python { get; private set; } = "python3";

    public string Chdir { get; private set; } = Directory.GetCurrentDirectory();

    /// <summary>"wsgi" or "asgi", or <see langword="null"/>: told by what the callable looks like, as Granian's --interface.</summary>
    public string? Interface { get; private set; }

    public int Workers { get; private set; }

    public int? Threads { get; private set; }

    /// <summary>gunicorn's default is 30 s; 0 means never, as gunicorn's --timeout 0 does.</summary>
    public TimeSpan? Timeout { get; private set; } = TimeSpan.FromSeconds(30);

    public int MaxRequests { get; private set; }

    public int MaxRequestsJitter { get; private set; }

    public long? MaxWorkerMemory { get; private set; }

    public TimeSpan GracefulTimeout { get; private set; } = TimeSpan.FromSeconds(30);

    /// <summary>Sets the option (one of <see cref="Options"/>); throws for a value out of range, naming the option.</summary>
    public void Set(string option, string value)
    {
        switch (option)
        {
            case "--python":
                Python = value;
                break;
            case "--chdir":
                Chdir = Path.GetFullPath(value);
                break;
            case "--interface":
                Interface = value is "wsgi" or "asgi" ? value : throw new ArgumentException($"--interface is wsgi or asgi, not '{value}'.");
                break;
            case "--workers":
                Workers = Whole(option, value, min: 1);
                break;
            case "--threads":
                Threads = Whole(option, value, min: 1);
                break;
            case "--timeout":
                var seconds = Whole(option, value, min: 0);
                Timeout = seconds == 0 ? null : TimeSpan.FromSeconds(seconds);
                break;
            case "--max-requests":
                MaxRequests = Whole(option, value, min: 0);
                break;
            case "--max-requests-jitter":
                MaxRequestsJitter = Whole(option, value, min: 0);
                break;
            case "--max-worker-memory":
                MaxWorkerMemory = long.TryParse(value, NumberStyles.None, CultureInfo.InvariantCulture, out var bytes) && bytes > 0
                    ? bytes
                    : throw new ArgumentException($"--max-worker-memory needs a number of bytes above 0, not '{value}'.");
                break;
            case "--graceful-timeout":
                GracefulTimeout = TimeSpan.FromSeconds(Whole(option, value, min: 0));
                break;
            default:
                throw new ArgumentException($"Unknown option '{option}'.");
        }
    }

    private static int Whole(string option, string value, int min) =>
        int.TryParse(value, NumberStyles.None, CultureInfo.InvariantCulture, out var n) && n >= min
            ? n
            : throw new ArgumentException($"{option} needs a whole number of at least {min}, not '{value}'.");
}
