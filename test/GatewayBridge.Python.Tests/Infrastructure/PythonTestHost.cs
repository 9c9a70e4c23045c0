using GatewayBridge;
using GatewayBridge.Python;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;
using Microsoft.AspNetCore.Http.Features;
using Microsoft.AspNetCore.TestHost;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using Python.Runtime;

namespace GatewayBridge.Python.Tests.Infrastructure;

/// <summary>A host with Debian's python3 embedded and the test apps folder on sys.path, in memory or on real Kestrel.</summary>
public sealed class PythonTestHost : IAsyncDisposable
{
    /// <summary>Debian's python3: the one with python3-flask, python3-django and python3-pyramid.</summary>
    public const string Python = "/usr/bin/python3";

    public static string AppsFolder { get; } = Path.Combine(AppContext.BaseDirectory, "apps");

    private PythonTestHost(WebApplication app, HttpClient client, int port, ListLoggerProvider logs)
    {
        App = app;
        Client = client;
        Port = port;
        Logs = logs;
    }

    public WebApplication App { get; }

    public HttpClient Client { get; }

    public int Port { get; }

    public ListLoggerProvider Logs { get; }

    /// <summary>Serves <paramref name="appSpec"/> as the whole pipeline, checked by CPython's wsgiref.validate unless told not to.</summary>
    public static Task<PythonTestHost> StartAsync(string appSpec, bool kestrel = false, bool validate = true, Action<GatewayOptions>? options = null, Action<PythonWsgiOptions>? python = null) =>
        StartAsync(app => app.UsePythonWsgiApp(appSpec, o =>
        {
            o.UseValidator = validate;
            options?.Invoke(o);
        }), kestrel, python);

    public static async Task<PythonTestHost> StartAsync(Action<WebApplication> pipeline, bool kestrel = false, Action<PythonWsgiOptions>? python = null, Action<WebApplicationBuilder>? configure = null)
    {
        var builder = WebApplication.CreateSlimBuilder(new WebApplicationOptions { EnvironmentName = "Production" });
        var logs = new ListLoggerProvider();
        builder.Logging.ClearProviders().AddProvider(logs).SetMinimumLevel(LogLevel.Debug);
        builder.Services.AddPythonWsgi(o =>
        {
            o.Python = Python;
            o.PythonPath.Add(AppsFolder);
            python?.Invoke(o);
        });
        if (kestrel)
        {
            builder.WebHost.UseKestrel().UseUrls("http://127.0.0.1:0");
        }
        else
        {
            builder.WebHost.UseTestServer();
        }

        configure?.Invoke(builder);
        var app = builder.Build();
        try
        {
            pipeline(app);
        }
        catch
        {
            await app.DisposeAsync();
            throw;
        }

        await app.StartAsync();
        if (!kestrel)
        {
            return new PythonTestHost(app, app.GetTestClient(), 0, logs);
        }

        var address = app.Services.GetRequiredService<IServer>().Features.GetRequiredFeature<IServerAddressesFeature>().Addresses.Single();
        var port = new Uri(address).Port;
        return new PythonTestHost(app, new HttpClient { BaseAddress = new Uri($"http://127.0.0.1:{port}"), Timeout = TimeSpan.FromSeconds(20) }, port, logs);
    }

    public RawConnection Connect() => RawConnection.Open(Port);

    /// <summary>Runs Python code in the process's interpreter, with the test apps importable (to set an app's event, say).</summary>
    public static void RunPython(string code)
    {
        using (Py.GIL())
        {
            PythonEngine.Exec(code);
        }
    }

    public async ValueTask DisposeAsync()
    {
        Client.Dispose();
        using var stop = new CancellationTokenSource(TimeSpan.FromSeconds(10));
        await App.StopAsync(stop.Token);
        await App.DisposeAsync();
    }
}
