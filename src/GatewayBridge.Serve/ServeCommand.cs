using GatewayBridge.Python;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.HttpOverrides;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;

namespace GatewayBridge.Serve;

/// <summary>
/// <c>gatewaybridge serve</c>: a .NET gateway app from a compiled assembly, or a Python WSGI app as gunicorn names it.
/// </summary>
internal static class ServeCommand
{
    public const string Usage = """
        usage: gatewaybridge serve <App.dll> <Namespace.Type.Method> [options]
               gatewaybridge serve <module:callable> [--python PYTHON] [--chdir DIR] [--threads N] [options]

          <App.dll>               the compiled assembly that holds the app
          <Namespace.Type.Method> a static IEnumerable<byte[]> M(IDictionary<string, object?>, StartResponse)
          <module:callable>       a Python WSGI app, as gunicorn takes it: module:name or module:factory()
          --python PYTHON         the python3 to embed (default: python3 on PATH)
          --chdir DIR             change to DIR and put it first on sys.path (default: the current folder)
          --threads N             Python threads that run app code (default 8)
          --urls URLS             where to listen (default http://127.0.0.1:8000; ';' separates several)
          --validate              check every call (GatewayValidator, or wsgiref.validate for Python)
          --forwarded-headers     trust X-Forwarded-For/-Proto/-Host/-Prefix from proxies on loopback
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
                // As gunicorn's --chdir: relative paths in the app resolve against its folder.
                Directory.SetCurrentDirectory(parsed.Chdir);
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
            await web.WaitForShutdownAsync(cancellationToken);
        }

        return 0;
    }

    public static WebApplication Build(GatewayApp app, ServeArguments arguments)
    {
        var web = CreateBuilder(arguments).Build();
        UseForwardedHeaders(web, arguments);
        web.UseGatewayApp(app, options => options.UseValidator = arguments.Validate);
        return web;
    }

    public static WebApplication BuildPython(string appSpec, ServeArguments arguments)
    {
        var builder = CreateBuilder(arguments);
        builder.Services.AddPythonWsgi(options =>
        {
            options.Python = arguments.Python;
            options.PythonPath.Add(arguments.Chdir);
            options.Threads = arguments.Threads;
        });
        var web = builder.Build();
        UseForwardedHeaders(web, arguments);
        web.UsePythonWsgiApp(appSpec, options => options.UseValidator = arguments.Validate);
        return web;
    }

    // Production defaults regardless of the machine's ASPNETCORE_ENVIRONMENT: no developer exception page.
    private static WebApplicationBuilder CreateBuilder(ServeArguments arguments)
    {
        var builder = WebApplication.CreateSlimBuilder(new WebApplicationOptions { EnvironmentName = "Production", Args = [] });
        builder.WebHost.UseUrls(arguments.Urls.Split(';', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries));
        return builder;
    }

    private static void UseForwardedHeaders(WebApplication web, ServeArguments arguments)
    {
        if (arguments.ForwardedHeaders)
        {
            web.UseForwardedHeaders(new ForwardedHeadersOptions { ForwardedHeaders = ForwardedHeaders.All });
        }
    }
}
