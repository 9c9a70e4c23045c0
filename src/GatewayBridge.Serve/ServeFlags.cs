using System.Globalization;
using System.Net;
using System.Net.Sockets;
using System.Text;

namespace GatewayBridge.Serve;

/// <summary>
/// Every flag <c>serve</c> takes, once: its spellings (gunicorn's short and long ones, uvicorn's where they differ), its
/// group in <c>--help</c> (gunicorn's sections), and what it sets. Parsing, <c>--help</c> and the "did you mean" of an
/// unknown flag all read this one table.
/// </summary>
internal static class ServeFlags
{
    public const string ServerSocket = "Server socket";
    public const string WorkerProcesses = "Worker processes";
    public const string App = "The app";
    public const string Logging = "Logging";
    public const string Ssl = "SSL";
    public const string Proxies = "Proxies";
    public const string Operations = "Operations";

    public static readonly IReadOnlyList<Flag> All =
    [
        new(["-b", "--bind"], ServerSocket, "ADDRESS", "listen on HOST:PORT, [::]:PORT or unix:PATH (repeatable; default 127.0.0.1:8000)",
            (s, _, v) => s.Binds.Add(v!)),
        new(["--urls"], ServerSocket, "URLS", "listen on Kestrel's URLs too, ';' between them (http://unix:/path for a socket)",
            (s, _, v) => s.Urls.AddRange(v!.Split(';', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries))),
        new(["--host"], ServerSocket, "HOST", "uvicorn's spelling: listen on HOST (with --port; default 127.0.0.1)", (s, _, v) => s.Host = v),
        new(["--port"], ServerSocket, "PORT", "uvicorn's spelling: listen on PORT (with --host; default 8000)",
            (s, n, v) => s.Port = PythonArguments.Whole(n, v!, 0) is var p && p <= 65535 ? p : throw new ArgumentException($"{n} is a port, 0 to 65535, not '{v}'.")),
        new(["--root-path"], ServerSocket, "PATH", "the path a proxy in front mounts the app at, without passing it on (SCRIPT_NAME, root_path)",
            (s, n, v) => s.RootPath = v!.StartsWith('/') && !v.EndsWith('/') ? v : throw new ArgumentException($"{n} needs a path that starts with '/' and does not end with one, not '{v}'.")),

        new(["-w", "--workers"], WorkerProcesses, "N", "run a Python app in N worker processes (default: in this process's interpreter)",
            (s, n, v) => s.Python.Workers = PythonArguments.Whole(n, v!, 1), IsPython: true),
        new(["--threads"], WorkerProcesses, "N", "Python threads per process (default: 8 in this process, 1 per worker)",
            (s, n, v) => s.Python.Threads = PythonArguments.Whole(n, v!, 1), IsPython: true),
        new(["-t", "--timeout"], WorkerProcesses, "SECONDS", "a call into app code that runs longer stops its worker (default 30; 0: never)",
            (s, n, v) => s.Python.Timeout = PythonArguments.Whole(n, v!, 0) is var t && t > 0 ? TimeSpan.FromSeconds(t) : null, IsPython: true),
        new(["--graceful-timeout"], WorkerProcesses, "SECONDS", "how long a stopping worker may finish its requests (default 30)",
            (s, n, v) => s.Python.GracefulTimeout = TimeSpan.FromSeconds(PythonArguments.Whole(n, v!, 0)), IsPython: true),
        new(["--max-requests"], WorkerProcesses, "N", "replace a worker after N requests (default 0: never)",
            (s, n, v) => s.Python.MaxRequests = PythonArguments.Whole(n, v!, 0), IsPython: true),
        new(["--max-requests-jitter"], WorkerProcesses, "N", "add up to N at random to --max-requests (default 0)",
            (s, n, v) => s.Python.MaxRequestsJitter = PythonArguments.Whole(n, v!, 0), IsPython: true),
        new(["--max-worker-memory"], WorkerProcesses, "BYTES", "replace a worker whose own memory (USS) passes BYTES (default: no limit)",
            (s, n, v) => s.Python.MaxWorkerMemory = long.TryParse(v, NumberStyles.None, CultureInfo.InvariantCulture, out var b) && b > 0
                ? b
                : throw new ArgumentException($"{n} needs a number of bytes above 0, not '{v}'."), IsPython: true),
        new(["--preload"], WorkerProcesses, null, "import the app once and fork the workers from it: they share its memory",
            (s, _, _) => s.Python.Preload = true, IsPython: true),
        new(["--post-fork"], WorkerProcesses, "MODULE:FUNCTION", "call FUNCTION() in each worker once it has the app (reconnect what must not be shared)",
            (s, n, v) => s.Python.PostFork = v!.Contains(':', StringComparison.Ordinal) ? v : throw new ArgumentException($"{n} names a function as module:function, not '{v}'."), IsPython: true),
        new(["--reload"], WorkerProcesses, null, "replace the workers when a .py file under the app's folder changes (development)",
            (s, _, _) => s.Python.Reload = true, IsPython: true),
        new(["--reload-include"], WorkerProcesses, "PATTERN", "reload on changes to files matching PATTERN too (repeatable; *.html, *.json)",
            (s, _, v) => s.Python.ReloadIncludes.Add(v!), IsPython: true),

        new(["--python"], App, "PYTHON", "the python3 to run (default: python3 on PATH)", (s, _, v) => s.Python.Python = v!, IsPython: true),
        new(["--chdir"], App, "DIR", "change to DIR and put it first on sys.path (default: the current folder)",
            (s, _, v) => s.Python.Chdir = Path.GetFullPath(v!), IsPython: true),
        new(["--interface"], App, "KIND", "wsgi or asgi (default: asgi for a coroutine callable, such as Starlette's or FastAPI's)",
            (s, n, v) => s.Python.Interface = v is "wsgi" or "asgi" ? v : throw new ArgumentException($"{n} is wsgi or asgi, not '{v}'."), IsPython: true),
        new(["--paste"], App, "FILE[#NAME]", "load the WSGI app of a PasteDeploy file (Pyramid's production.ini), instead of module:callable",
            (s, n, v) => s.Python.PasteSpec = Paste(n, v!), IsPython: true),
        new(["--validate"], App, null, "check every call (GatewayValidator, or wsgiref.validate for Python)", (s, _, _) => s.Validate = true),

        new(["--access-logfile"], Logging, "FILE", "write an access log line per request to FILE ('-': stdout), in gunicorn's format",
            (s, _, v) => s.AccessLogFile = v),
        new(["--access-logformat"], Logging, "FORMAT", "the access log's format, in gunicorn's atoms (%(h)s %(r)s %(s)s %(D)s ...)",
            (s, _, v) => s.AccessLogFormat = v!),

        new(["--certfile"], Ssl, "FILE", "serve HTTPS with this PEM certificate (and --keyfile)", (s, _, v) => s.CertFile = Path.GetFullPath(v!)),
        new(["--keyfile"], Ssl, "FILE", "the certificate's PEM private key", (s, _, v) => s.KeyFile = Path.GetFullPath(v!)),

        new(["--forwarded-headers", "--proxy-headers"], Proxies, null, "trust X-Forwarded-For/-Proto/-Host/-Prefix from proxies (loopback unless --forwarded-allow-ips)",
            (s, _, _) => s.Forwarded = true),
        new(["--forwarded-allow-ips"], Proxies, "IPS", "the proxies to trust, ',' between them ('*': any); implies --forwarded-headers",
            (s, _, v) =>
            {
                s.Forwarded = true;
                s.AllowIps.AddRange(v!.Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries));
            }),

        new(["--health-path"], Operations, "PATH", "answer ASP.NET Core's health checks there (with the workers' check)",
            (s, n, v) => s.HealthPath = Rooted(n, v!)),
        new(["--status-path"], Operations, "PATH", "show each worker there (JSON, or a table for a browser); opt-in, no request data shown",
            (s, n, v) => s.StatusPath = Rooted(n, v!)),
        new(["--check-config"], Operations, null, "import the app, say whether it loads, and exit without serving", (s, _, _) => s.CheckConfig = true),
        new(["-v", "--version"], Operations, null, "print the version and exit", (_, _, _) => { }),
        new(["-h", "--help"], Operations, null, "print this help and exit", (_, _, _) => { }),
    ];

    private static readonly string[] Groups = [ServerSocket, WorkerProcesses, App, Logging, Ssl, Proxies, Operations];

    public static Flag? Find(string name) => All.FirstOrDefault(f => f.Names.Contains(name, StringComparer.Ordinal));

    /// <summary>An unknown flag's error: its first line names the nearest known one.</summary>
    public static string Unknown(string name)
    {
        var nearest = All.SelectMany(f => f.Names).MinBy(known => Distance(name, known))!;
        return $"Unknown option '{name}'; did you mean '{nearest}'?\n(gatewaybridge serve --help lists them all.)";
    }

    /// <summary><c>--help</c>: the usage, then every flag by group.</summary>
    public static string Help()
    {
        var text = new StringBuilder("""
            usage: gatewaybridge serve <module:app> [options]             a Python WSGI or ASGI app, as gunicorn and uvicorn take it
                   gatewaybridge serve --paste FILE[#NAME] [options]     the WSGI app of a PasteDeploy file
                   gatewaybridge serve <App.dll> <Namespace.Type.Method> [options]
                                                                         a .NET gateway app: static IEnumerable<byte[]> M(environ, start_response)

            """);
        foreach (var group in Groups)
        {
            text.Append('\n').Append(group).Append(":\n");
            foreach (var flag in All.Where(f => f.Group == group))
            {
                var names = string.Join(", ", flag.Names) + (flag.Value is null ? "" : " " + flag.Value);
                text.Append("  ").Append(names.PadRight(34)).Append(' ').Append(flag.Help).Append('\n');
            }
        }

        text.Append("""

            Signals: SIGHUP replaces the workers with freshly imported code, one at a time; SIGTTIN adds a worker and SIGTTOU
            removes one; SIGTERM and Ctrl+C stop gracefully.
            """);
        return text.ToString();
    }

    private static string Rooted(string name, string value) =>
        value.StartsWith('/') ? value : throw new ArgumentException($"{name} needs a path that starts with '/', not '{value}'.");

    private static string Paste(string name, string value)
    {
        var hash = value.IndexOf('#', StringComparison.Ordinal);
        var file = Path.GetFullPath(hash >= 0 ? value[..hash] : value);
        if (!File.Exists(file))
        {
            throw new ArgumentException($"{name} {value}: the file {file} does not exist.");
        }

        return $"paste:{file}#{(hash >= 0 ? value[(hash + 1)..] : "main")}";
    }

    // Levenshtein's distance: the fewest one-character edits from a to b.
    private static int Distance(string a, string b)
    {
        var row = Enumerable.Range(0, b.Length + 1).ToArray();
        for (var i = 1; i <= a.Length; i++)
        {
            var diagonal = row[0];
            row[0] = i;
            for (var j = 1; j <= b.Length; j++)
            {
                var above = row[j];
                row[j] = Math.Min(Math.Min(row[j] + 1, row[j - 1] + 1), diagonal + (a[i - 1] == b[j - 1] ? 0 : 1));
                diagonal = above;
            }
        }

        return row[b.Length];
    }

    /// <summary>One flag: its spellings, group, the name of its value (none for a switch), its help, and what it sets.</summary>
    internal sealed record Flag(string[] Names, string Group, string? Value, string Help, Action<State, string, string?> Apply, bool IsPython = false);

    /// <summary>What the flags have set so far.</summary>
    internal sealed class State
    {
        public List<string> Binds { get; } = [];

        public List<string> Urls { get; } = [];

        public string? Host { get; set; }

        public int? Port { get; set; }

        public string? RootPath { get; set; }

        public bool Validate { get; set; }

        public bool Forwarded { get; set; }

        public List<string> AllowIps { get; } = [];

        public string? HealthPath { get; set; }

        public string? StatusPath { get; set; }

        public bool CheckConfig { get; set; }

        public string? AccessLogFile { get; set; }

        public string AccessLogFormat { get; set; } = ServeLogging.DefaultFormat;

        public string? CertFile { get; set; }

        public string? KeyFile { get; set; }

        public PythonArguments Python { get; } = new();

        public string? PythonFlagName { get; set; }

        public bool PythonFlagGiven => PythonFlagName is not null;

        /// <summary>Every address to listen on, as Kestrel's URLs; throws for one that cannot be, naming its flag.</summary>
        public List<string> Addresses()
        {
            var scheme = CertFile is null ? "http" : "https";
            var addresses = new List<string>(Urls);
            addresses.AddRange(Binds.SelectMany(b => Bind(scheme, b)));
            if (Host is not null || Port is not null)
            {
                addresses.AddRange(Bind(scheme, $"{(Host is { } h && h.Contains(':', StringComparison.Ordinal) ? $"[{h}]" : Host ?? "127.0.0.1")}:{Port ?? 8000}", "--host/--port"));
            }

            if (addresses.Count == 0)
            {
                addresses.Add($"{scheme}://127.0.0.1:8000");
            }

            return addresses;
        }

        // gunicorn's forms: HOST:PORT, HOST (port 8000), :PORT (every interface), [IPv6]:PORT, tcp://HOST:PORT, unix:PATH.
        // A host name listens where it resolves to, as gunicorn's does (Kestrel would take any name but localhost for
        // every interface).
        private static IEnumerable<string> Bind(string scheme, string bind, string flag = "--bind")
        {
            if (bind.StartsWith("unix:", StringComparison.Ordinal))
            {
                // Its folder is checked when the server starts (ServeCommand), not here: a deployment file names
                // folders of the machine it is for.
                // unix:PATH or unix://PATH, as gunicorn reads both.
                var path = bind["unix:".Length..];
                return [$"{scheme}://unix:{Path.GetFullPath(path.StartsWith("//", StringComparison.Ordinal) ? path[2..] : path)}"];
            }

            var address = bind.StartsWith("tcp://", StringComparison.Ordinal) ? bind["tcp://".Length..] : bind;
            if (address.Contains("://", StringComparison.Ordinal))
            {
                throw new ArgumentException($"{flag} {bind}: give HOST:PORT, [::]:PORT or unix:PATH (a URL goes to --urls).");
            }

            var colon = address.LastIndexOf(':');
            var (host, port) = colon > address.LastIndexOf(']') ? (address[..colon], address[(colon + 1)..]) : (address, "8000");
            if (!int.TryParse(port, NumberStyles.None, CultureInfo.InvariantCulture, out var number) || number > 65535)
            {
                throw new ArgumentException($"{flag} {bind}: give HOST:PORT, [::]:PORT or unix:PATH.");
            }

            if (host.Length == 0)
            {
                host = "0.0.0.0";
            }

            if (host.StartsWith('[') || host == "localhost" || IPAddress.TryParse(host, out _))
            {
                return [$"{scheme}://{host}:{number}"];
            }

            IPAddress[] resolved;
            try
            {
                resolved = Dns.GetHostAddresses(host);
            }
            catch (SocketException ex)
            {
                throw new ArgumentException($"{flag} {bind}: {host} does not resolve ({ex.Message}).");
            }

            return resolved.Distinct().Select(ip => ip.AddressFamily == AddressFamily.InterNetworkV6 ? $"{scheme}://[{ip}]:{number}" : $"{scheme}://{ip}:{number}");
        }

        public ServeArguments Build(string? assembly, string? method, string? appSpec, IReadOnlyList<string> addresses)
        {
            if (KeyFile is not null && CertFile is null)
            {
                throw new ArgumentException("--keyfile goes with --certfile.");
            }

            return new ServeArguments(
                assembly, method, appSpec, addresses, Validate, new ProxyArguments(Forwarded, AllowIps), HealthPath, StatusPath,
                new ServeLogging(AccessLogFile, AccessLogFormat), CertFile is null ? null : new TlsFiles(CertFile, KeyFile), RootPath, CheckConfig, Python);
        }
    }
}
