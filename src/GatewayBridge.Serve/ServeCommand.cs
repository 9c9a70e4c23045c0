using System.Net;
using System.Net.Sockets;
using System.Reflection;
using System.Runtime.InteropServices;
using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;
using GatewayBridge.Python;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.HttpOverrides;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;

namespace GatewayBridge.Serve;

/// <summary>
/// <c>gatewaybridge serve</c>: a Python WSGI or ASGI app as gunicorn and uvicorn name it (or a PasteDeploy file's), or a
/// .NET gateway app from a compiled assembly, with gunicorn's flags (<see cref="ServeFlags"/>).
/// </summary>
internal static class ServeCommand
{
    public static async Task<int> RunAsync(string[] args, TextWriter output, TextWriter error, CancellationToken cancellationToken = default)
    {
        if (args.Any(a => a is "-h" or "--help"))
        {
            await output.WriteAsync(ServeFlags.Help());
            return 0;
        }

        if (args.Any(a => a is "-v" or "--version"))
        {
            await output.WriteLineAsync(Version());
            return 0;
        }

        ServeArguments parsed;
        try
        {
            parsed = ServeArguments.Parse(args);
        }
        catch (ArgumentException ex)
        {
            await error.WriteLineAsync($"error: {ex.Message}");
            await error.WriteLineAsync("(gatewaybridge serve --help lists every option.)");
            return 2;
        }

        if (parsed.CheckConfig)
        {
            return await CheckConfigAsync(parsed, output, error);
        }

        WebApplication web;
        try
        {
            if (parsed.AppSpec is { } appSpec)
            {
                PythonServingDefaults.BeforeFirstSocket();

                // As gunicorn's --chdir: relative paths in the app resolve against its folder.
                Directory.SetCurrentDirectory(parsed.Python.Chdir);
                web = BuildPython(appSpec, parsed);
            }
            else
            {
                web = Build(AppLoader.Load(parsed.AssemblyPath!, parsed.MethodPath!), parsed);
            }
        }
        catch (Exception ex) when (ex is AppLoadException or InvalidOperationException or IOException or UnauthorizedAccessException or ArgumentException)
        {
            await error.WriteLineAsync($"error: {ex.Message}");
            return 2;
        }

        await using (web)
        {
            // Taken from before the start: a SIGHUP that comes while the workers start must not end the server (its
            // default), nor a SIGTTIN stop it; each does its work once the server serves.
            using var signals = OperatingSystem.IsWindows() ? null : new WorkerSignals(parsed.Python.Workers > 0 && parsed.AppSpec is not null ? web.Services.GetRequiredService<IPythonWorkers>() : null, error);
            try
            {
                await web.StartAsync(cancellationToken);
            }
            catch (IOException ex)
            {
                // Kestrel's "Failed to bind to address ...": which address, and why.
                await error.WriteLineAsync($"error: could not listen ({string.Join(", ", parsed.Addresses)}): {ex.Message}");
                return 2;
            }

            if (!OperatingSystem.IsWindows())
            {
                signals?.Serving();
            }

            OpenUnixSockets(parsed.Addresses);
            foreach (var url in web.Urls)
            {
                await output.WriteLineAsync($"Serving {parsed.AppSpec ?? parsed.MethodPath} on {url}");
            }

            // Ctrl+C and SIGTERM stop the host gracefully: in-flight requests finish within the shutdown timeout.
            // SIGHUP reloads the workers, SIGTTIN adds one and SIGTTOU removes one, as gunicorn's master does.
            await web.WaitForShutdownAsync(cancellationToken);
        }

        return 0;
    }

    /// <summary>The host for a .NET gateway app.</summary>
    public static WebApplication Build(GatewayApp app, ServeArguments arguments)
    {
        var builder = CreateBuilder(arguments);
        builder.Services.AddHealthChecks();
        var web = builder.Build();
        UseFront(web, arguments);
        web.UseGatewayApp(app, options => options.UseValidator = arguments.Validate);
        return web;
    }

    /// <summary>The host for a Python app; <paramref name="beforeApp"/> maps what comes before the app (the load scripts' native endpoint).</summary>
    public static WebApplication BuildPython(string appSpec, ServeArguments arguments, Action<WebApplication>? beforeApp = null)
    {
        var builder = CreateBuilder(arguments);
        PythonServingDefaults.Apply(builder.WebHost);
        var python = arguments.Python;
        builder.Services.AddPython(options =>
        {
            options.Python = python.Python;
            options.PythonPath.Add(python.Chdir);
            options.Workers = python.Workers;
            options.Threads = python.Threads;
            options.Timeout = python.Timeout;
            options.MaxRequests = python.MaxRequests;
            options.MaxRequestsJitter = python.MaxRequestsJitter;
            options.MaxWorkerMemory = python.MaxWorkerMemory;
            options.GracefulTimeout = python.GracefulTimeout;
            options.Preload = python.Preload;
            options.PostFork = python.PostFork;
            options.Reload = python.Reload;
            foreach (var pattern in python.ReloadIncludes)
            {
                options.ReloadIncludes.Add(pattern);
            }
        });

        // The host stops its workers after draining its requests: its own shutdown timeout must leave them their grace.
        builder.Services.Configure<HostOptions>(o => o.ShutdownTimeout = python.GracefulTimeout + TimeSpan.FromSeconds(5));
        builder.Services.AddHealthChecks().AddPythonWorkers();
        var web = builder.Build();
        UseFront(web, arguments);
        if (arguments.StatusPath is { } statusPath)
        {
            web.MapPythonStatus(statusPath);
        }

        beforeApp?.Invoke(web);
        if ((python.Interface ?? PythonAppInterface.Detect(python.Python, [python.Chdir], appSpec)) == "asgi")
        {
            // WebSockets go to the app as ASGI's WebSocket protocol.
            web.UseWebSockets();
            web.UsePythonAsgiApp(appSpec);
        }
        else
        {
            web.UsePythonWsgiApp(appSpec, options => options.UseValidator = arguments.Validate);
        }

        return web;
    }

    // --check-config: the app is imported (in a python3 of its own, as a worker would) and the verdict printed.
    private static async Task<int> CheckConfigAsync(ServeArguments arguments, TextWriter output, TextWriter error)
    {
        try
        {
            if (arguments.AppSpec is { } appSpec)
            {
                var python = arguments.Python;
                var kind = PythonAppInterface.Detect(python.Python, [python.Chdir], appSpec);
                await output.WriteLineAsync($"ok: {appSpec} imports, and is {(kind == "asgi" ? "an ASGI" : "a WSGI")} app ({python.Python}, from {python.Chdir}).");
            }
            else
            {
                AppLoader.Load(arguments.AssemblyPath!, arguments.MethodPath!);
                await output.WriteLineAsync($"ok: {arguments.MethodPath} in {arguments.AssemblyPath} is a gateway app.");
            }

            return 0;
        }
        catch (Exception ex) when (ex is AppLoadException or InvalidOperationException or DirectoryNotFoundException)
        {
            await error.WriteLineAsync($"error: {ex.Message}");
            return 1;
        }
    }

    // Production defaults regardless of the machine's ASPNETCORE_ENVIRONMENT: no developer exception page.
    private static WebApplicationBuilder CreateBuilder(ServeArguments arguments)
    {
        var builder = WebApplication.CreateSlimBuilder(new WebApplicationOptions { EnvironmentName = "Production", Args = [] });
        foreach (var address in arguments.Addresses)
        {
            PrepareUnixSocket(address);
        }

        builder.WebHost.UseUrls([.. arguments.Addresses]);
        if (arguments.Tls is { } tls)
        {
            var certificate = LoadCertificate(tls);
            builder.WebHost.UseKestrelHttpsConfiguration();
            builder.WebHost.ConfigureKestrel(k => k.ConfigureHttpsDefaults(https => https.ServerCertificate = certificate));
        }

        // As the ASP.NET Core templates' appsettings.json: not two console lines per request (a hello then cost more in
        // logging than in serving it), which a gunicorn user does not get either unless asking for an access log.
        builder.Logging.AddFilter("Microsoft.AspNetCore", LogLevel.Warning);
        if (arguments.Logging.AccessLogFile is { } file)
        {
            var format = arguments.Logging.AccessLogFormat;
            builder.Services.AddSingleton(_ => new AccessLog(file, format));
        }

        return builder;
    }

    // What comes before the app, for .NET and Python apps alike: the access log (it sees every request), the root path,
    // the proxies' headers, and the health checks.
    private static void UseFront(WebApplication web, ServeArguments arguments)
    {
        if (web.Services.GetService<AccessLog>() is { } accessLog)
        {
            web.Use(accessLog.Middleware);
        }

        if (arguments.RootPath is { } rootPath)
        {
            var prefix = new PathString(rootPath);
            web.Use((context, next) =>
            {
                // As uvicorn's --root-path: the app is mounted there by a proxy that does not pass the prefix on.
                context.Request.PathBase = prefix.Add(context.Request.PathBase);
                return next(context);
            });
        }

        if (arguments.Proxy.Enabled)
        {
            web.UseForwardedHeaders(ForwardedOptions(arguments.Proxy.AllowedIps));
        }

        if (arguments.HealthPath is { } path)
        {
            web.MapHealthChecks(path);
        }
    }

    private static ForwardedHeadersOptions ForwardedOptions(IReadOnlyList<string> allowed)
    {
        var options = new ForwardedHeadersOptions { ForwardedHeaders = ForwardedHeaders.All };
        if (allowed.Count == 0)
        {
            // Loopback only: ASP.NET Core's default, and uvicorn's (127.0.0.1).
            return options;
        }

        options.KnownProxies.Clear();
        options.KnownIPNetworks.Clear();
        if (allowed.Contains("*"))
        {
            // As uvicorn's --forwarded-allow-ips '*': every peer is trusted, and every hop of X-Forwarded-For is read.
            options.ForwardLimit = null;
            options.KnownIPNetworks.Add(System.Net.IPNetwork.Parse("0.0.0.0/0"));
            options.KnownIPNetworks.Add(System.Net.IPNetwork.Parse("::/0"));
            return options;
        }

        foreach (var entry in allowed)
        {
            if (entry.Contains('/', StringComparison.Ordinal))
            {
                options.KnownIPNetworks.Add(System.Net.IPNetwork.TryParse(entry, out var network)
                    ? network
                    : throw new ArgumentException($"--forwarded-allow-ips: '{entry}' is not an address or a network (10.0.0.0/8)."));
            }
            else
            {
                options.KnownProxies.Add(IPAddress.TryParse(entry, out var address)
                    ? address
                    : throw new ArgumentException($"--forwarded-allow-ips: '{entry}' is not an address or a network (10.0.0.0/8)."));
            }
        }

        return options;
    }

    private static X509Certificate2 LoadCertificate(TlsFiles tls)
    {
        try
        {
            return X509Certificate2.CreateFromPemFile(tls.CertFile, tls.KeyFile);
        }
        catch (Exception ex) when (ex is CryptographicException or IOException or ArgumentException)
        {
            throw new ArgumentException($"--certfile {tls.CertFile}{(tls.KeyFile is null ? "" : $" with --keyfile {tls.KeyFile}")} does not load: {ex.Message}");
        }
    }

    // A unix: address needs its folder; a socket file left by a server that is gone would refuse the bind, as it would
    // gunicorn's, which removes it first.
    private static void PrepareUnixSocket(string address)
    {
        if (UnixSocketPath(address) is not { } path)
        {
            return;
        }

        var folder = Path.GetDirectoryName(path)!;
        if (!Directory.Exists(folder))
        {
            throw new ArgumentException($"--bind unix:{path}: the folder {folder} does not exist.");
        }

        if (!File.Exists(path))
        {
            return;
        }

        try
        {
            // A file that opens is no socket (open(2) refuses one): it is somebody's file, never removed.
            File.OpenHandle(path).Dispose();
            throw new ArgumentException($"--bind unix:{path}: a file that is not a socket is there.");
        }
        catch (IOException)
        {
        }

        using var probe = new Socket(AddressFamily.Unix, SocketType.Stream, ProtocolType.Unspecified);
        try
        {
            probe.Connect(new UnixDomainSocketEndPoint(path));
        }
        catch (SocketException ex) when (ex.SocketErrorCode == SocketError.ConnectionRefused)
        {
            // Nobody listens: a socket file left behind.
            File.Delete(path);
            return;
        }
        catch (SocketException)
        {
            return;
        }

        throw new ArgumentException($"--bind unix:{path}: another server listens there.");
    }

    // As gunicorn's (its --umask is 0 by default): anyone may connect to the socket, and its folder's permissions decide
    // who reaches it (deploy/'s RuntimeDirectory, for one). The process's umask would leave out a proxy running as
    // another user.
    private static void OpenUnixSockets(IEnumerable<string> addresses)
    {
        if (OperatingSystem.IsWindows())
        {
            return;
        }

        foreach (var path in addresses.Select(UnixSocketPath).OfType<string>())
        {
            File.SetUnixFileMode(path, (UnixFileMode)0b111_111_111);
        }
    }

    // Kestrel's spelling of a unix socket: http://unix:/path.
    private static string? UnixSocketPath(string address) =>
        address.IndexOf("://unix:", StringComparison.Ordinal) is var prefix and >= 0 ? address[(prefix + "://unix:".Length)..] : null;

    private static string Version()
    {
        var version = typeof(ServeCommand).Assembly.GetCustomAttribute<AssemblyInformationalVersionAttribute>()?.InformationalVersion ?? "?";
        return $"gatewaybridge {version.Split('+')[0]} (.NET {Environment.Version}, {RuntimeInformation.OSDescription})";
    }

    /// <summary>
    /// SIGHUP, SIGTTIN and SIGTTOU for the workers, as gunicorn's master takes them (workers need Linux). Without workers
    /// (an app in this process) there is nothing to reload or add: the signal is reported and does nothing, rather than
    /// end the server as its default would.
    /// </summary>
    [System.Runtime.Versioning.UnsupportedOSPlatform("windows")]
    private sealed class WorkerSignals : IDisposable
    {
        private readonly PosixSignalRegistration[] _registrations;
        private readonly TaskCompletionSource _serving = new(TaskCreationOptions.RunContinuationsAsynchronously);

        public WorkerSignals(IPythonWorkers? workers, TextWriter error)
        {
            _registrations =
            [
                On(PosixSignal.SIGHUP, workers is null ? null : () => workers.ReloadAsync(), "reload", error),
                On(PosixSignal.SIGTTIN, workers is null ? null : () => workers.AddWorkerAsync(), "add a worker", error),
                On(PosixSignal.SIGTTOU, workers is null ? null : () => RemoveOne(workers), "remove a worker", error),
            ];
        }

        // As gunicorn's TTOU, never below one worker; said, so that whoever sent it knows.
        private static Task RemoveOne(IPythonWorkers workers) =>
            workers.RemoveWorker() > 0 ? Task.CompletedTask : Task.FromException(new InvalidOperationException("one worker is the fewest"));

        /// <summary>A signal that came while the server started does its work now; later ones at once.</summary>
        public void Serving() => _serving.TrySetResult();

        private PosixSignalRegistration On(PosixSignal signal, Func<Task>? act, string what, TextWriter error) =>
            PosixSignalRegistration.Create(signal, context =>
            {
                // The defaults would stop the process (SIGHUP) or the terminal's job (SIGTTIN, SIGTTOU).
                context.Cancel = true;
                if (act is null)
                {
                    error.WriteLine($"{signal}: could not {what}: the app runs in this process (-w N runs it in worker processes).");
                    return;
                }

                _ = Task.Run(async () =>
                {
                    try
                    {
                        await _serving.Task;
                        await act();
                    }
                    catch (Exception ex)
                    {
                        // Reported, never thrown: an exception here would be unobserved, and the workers serve on.
                        await error.WriteLineAsync($"{signal}: could not {what}, the running workers go on serving: {ex.Message}");
                    }
                });
            });

        public void Dispose()
        {
            foreach (var registration in _registrations)
            {
                registration.Dispose();
            }
        }
    }
}
