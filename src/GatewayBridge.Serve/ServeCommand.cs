using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.HttpOverrides;
using Microsoft.Extensions.Hosting;

namespace GatewayBridge.Serve;

/// <summary>
/// <c>gatewaybridge serve &lt;App.dll&gt; &lt;Namespace.Type.Method&gt; [--urls URLS] [--validate] [--forwarded-headers]</c>.
/// </summary>
internal static class ServeCommand
{
    public const string Usage = """
        usage: gatewaybridge serve <App.dll> <Namespace.Type.Method> [--urls URLS] [--validate] [--forwarded-headers]

          <App.dll>               the compiled assembly that holds the app
          <Namespace.Type.Method> a static IEnumerable<byte[]> M(IDictionary<string, object?>, StartResponse)
          --urls URLS             where to listen (default http://127.0.0.1:8000; ';' separates several)
          --validate              check every call with GatewayValidator
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

        GatewayApp app;
        try
        {
            app = AppLoader.Load(parsed.AssemblyPath, parsed.MethodPath);
        }
        catch (AppLoadException ex)
        {
            await error.WriteLineAsync($"error: {ex.Message}");
            return 2;
        }

        await using var web = Build(app, parsed);
        await web.StartAsync(cancellationToken);
        foreach (var url in web.Urls)
        {
            await output.WriteLineAsync($"Serving {parsed.MethodPath} on {url}");
        }

        // Ctrl+C and SIGTERM stop the host gracefully: in-flight requests finish within the shutdown timeout.
        await web.WaitForShutdownAsync(cancellationToken);
        return 0;
    }

    public static WebApplication Build(GatewayApp app, ServeArguments arguments)
    {
        // Production defaults regardless of the machine's ASPNETCORE_ENVIRONMENT: no developer exception page.
        var builder = WebApplication.CreateSlimBuilder(new WebApplicationOptions { EnvironmentName = "Production", Args = [] });
        builder.WebHost.UseUrls(arguments.Urls.Split(';', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries));
        var web = builder.Build();
        if (arguments.ForwardedHeaders)
        {
            web.UseForwardedHeaders(new ForwardedHeadersOptions { ForwardedHeaders = ForwardedHeaders.All });
        }

        web.UseGatewayApp(app, options => options.UseValidator = arguments.Validate);
        return web;
    }
}

/// <summary>The parsed command line of <c>serve</c>.</summary>
internal sealed record ServeArguments(string AssemblyPath, string MethodPath, string Urls, bool Validate, bool ForwardedHeaders)
{
    public static ServeArguments Parse(string[] args)
    {
        var positional = new List<string>();
        var urls = "http://127.0.0.1:8000";
        bool validate = false, forwarded = false;
        for (var i = 0; i < args.Length; i++)
        {
            switch (args[i])
            {
                case "--urls" when i + 1 < args.Length:
                    urls = args[++i];
                    break;
                case "--urls":
                    throw new ArgumentException("--urls needs a value, such as http://127.0.0.1:8000.");
                case "--validate":
                    validate = true;
                    break;
                case "--forwarded-headers":
                    forwarded = true;
                    break;
                case var option when option.StartsWith("--", StringComparison.Ordinal):
                    throw new ArgumentException($"Unknown option '{option}'.");
                default:
                    positional.Add(args[i]);
                    break;
            }
        }

        if (positional.Count != 3 || positional[0] != "serve")
        {
            throw new ArgumentException("Expected: serve <App.dll> <Namespace.Type.Method>.");
        }

        return new ServeArguments(positional[1], positional[2], urls, validate, forwarded);
    }
}
