using System.Runtime.InteropServices;
using GatewayBridge.Python;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.HttpOverrides;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;

namespace GatewayBridge.Serve;

/// <summary>
/// <c>gatewaybridge serve</c>: a .NET gateway app from a compiled assembly, or a Python WSGI or ASGI app as gunicorn
/// and uvicorn name it.
/// </summary>
internal static class ServeCommand
{
    public const string Usage = """
        usage: gatewaybridge serve <App.dll> <Namespace.Type.Method> [options]
               gatewaybridge serve <module:app> [--python PYTHON] [--chdir DIR] [--interface asgi|wsgi] [--workers N] [options]

          <App.dll>               the compiled assembly that holds the app
          <Namespace.Type.Method> a static IEnumerable<byte[]> M(IDictionary<string, object?>, StartResponse)
          <module:app>            a Python WSGI or ASGI app, as gunicorn and uvicorn take it: module:name or module:factory()
          --python PYTHON         the python3 to run (default: python3 on PATH)
          --chdir DIR             change to DIR and put it first on sys.path (default: the current folder)
          --interface KIND        wsgi or asgi (default: asgi for a coroutine callable, such as Starlette's or FastAPI's)
          --workers N             run the app in N worker processes (default: in this process's interpreter)
          --threads N             Python threads per process (default: 8 in this process, 1 per worker)
          --timeout SECONDS       a call into app code that runs longer stops its worker (default 30; 0: never)
          --max-requests N        replace a worker after N requests (default 0: never)
          --max-requests-jitter N add up to N at random to --max-requests (default 0)
          --max-worker-memory B   replace a worker whose resident memory passes B bytes (default: no limit)
          --graceful-timeout S    how long a stopping worker may finish its requests (default 30)
          --urls URLS             where to listen (default http://127.0.0.1:8000; ';' separates several)
          --validate              check every call (GatewayValidator, or wsgiref.validate for Python)
          --forwarded-headers     trust X-Forwarded-For/-Proto/-Host/-Prefix from proxies on loopback
          --health-path PATH      answer ASP.NET Core's health checks there (with the workers' check)

        SIGHUP replaces the workers one at a time with freshly imported code; SIGTERM and Ctrl+C stop gracefully.
        """;

    public static async Task<int> RunAsync(string[] args, TextWriter output, TextWriter error, CancellationToken cancellationToken = default)
    {
        ServeArguments parsed;
        try
        {
            parsed = ServeArguments.Parse(args);
        }
        catch (ArgumentException ex)
        {
            await error.WriteLineAsync(ex.Message);
            await error.WriteLineAsync(Usage);
            return 2;
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
        catch (Exception ex) when (ex is AppLoadException or InvalidOperationException or DirectoryNotFoundException)
        {
            await error.WriteLineAsync($"error: {ex.Message}");
            return 2;
        }

        await using (web)
        {
            await web.StartAsync(cancellationToken);
            foreach (var url in web.Urls)
            {
                await output.WriteLineAsync($"Serving {parsed.AppSpec ?? parsed.MethodPath} on {url}");
            }

            // Ctrl+C and SIGTERM stop the host gracefully: in-flight requests finish within the shutdown timeout.
            // SIGHUP reloads the workers, as gunicorn's master does.
            using var reload = parsed.Python.Workers > 0 ? ReloadOnSighup(web, error) : null;
            await web.WaitForShutdownAsync(cancellationToken);
        }

        return 0;
    }

    public static WebApplication Build(GatewayApp app, ServeArguments arguments)
    {
        var builder = CreateBuilder(arguments);
        builder.Services.AddHealthChecks();
        var web = builder.Build();
        UseForwardedHeaders(web, arguments);
        MapHealthChecks(web, arguments);
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
        });

        // The host stops its workers after draining its requests: its own shutdown timeout must leave them their grace.
        builder.Services.Configure<HostOptions>(o => o.ShutdownTimeout = python.GracefulTimeout + TimeSpan.FromSeconds(5));
        builder.Services.AddHealthChecks().AddPythonWorkers();
        var web = builder.Build();
        UseForwardedHeaders(web, arguments);
        MapHealthChecks(web, arguments);
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

    // Production defaults regardless of the machine's ASPNETCORE_ENVIRONMENT: no developer exception page.
    private static WebApplicationBuilder CreateBuilder(ServeArguments arguments)
    {
        var builder = WebApplication.CreateSlimBuilder(new WebApplicationOptions { EnvironmentName = "Production", Args = [] });
        builder.WebHost.UseUrls(arguments.Urls.Split(';', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries));

        // As the ASP.NET Core templates' appsettings.json: not two console lines per request (a hello then cost more in
        // logging than in serving it), which a gunicorn user does not get either unless asking for an access log.
        builder.Logging.AddFilter("Microsoft.AspNetCore", LogLevel.Warning);
        return builder;
    }

    private static void MapHealthChecks(WebApplication web, ServeArguments arguments)
    {
        if (arguments.HealthPath is { } path)
        {
            web.MapHealthChecks(path);
        }
    }

    private static PosixSignalRegistration ReloadOnSighup(WebApplication web, TextWriter error)
    {
        var workers = web.Services.GetRequiredService<IPythonWorkers>();
        return PosixSignalRegistration.Create(PosixSignal.SIGHUP, context =>
        {
            // The default for SIGHUP would end the process.
            context.Cancel = true;
            _ = Task.Run(async () =>
            {
                try
                {
                    await workers.ReloadAsync();
                }
                catch (InvalidOperationException ex)
                {
                    await error.WriteLineAsync($"reload failed, the running workers go on serving: {ex.Message}");
                }
            });
        });
    }

    private static void UseForwardedHeaders(WebApplication web, ServeArguments arguments)
    {
        if (arguments.ForwardedHeaders)
        {
            web.UseForwardedHeaders(new ForwardedHeadersOptions { ForwardedHeaders = ForwardedHeaders.All });
        }
    }
}
