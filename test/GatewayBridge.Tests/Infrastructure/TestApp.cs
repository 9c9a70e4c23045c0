using GatewayBridge;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;
using Microsoft.AspNetCore.Http.Features;
using Microsoft.AspNetCore.TestHost;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;

namespace GatewayBridge.Tests.Infrastructure;

/// <summary>
/// A host running a gateway app, in memory (TestServer) or on a real Kestrel socket on 127.0.0.1:0.
/// </summary>
public sealed class TestApp : IAsyncDisposable
{
    private TestApp(WebApplication app, HttpClient client, int port, ListLoggerProvider logs)
    {
        App = app;
        Client = client;
        Port = port;
        Logs = logs;
    }

    public WebApplication App { get; }

    public HttpClient Client { get; }

    /// <summary>The Kestrel port, or 0 in memory.</summary>
    public int Port { get; }

    public ListLoggerProvider Logs { get; }

    /// <summary>Runs <paramref name="gatewayApp"/> as the whole pipeline, through the validator unless told not to.</summary>
    public static Task<TestApp> StartAsync(GatewayApp gatewayApp, bool kestrel = false, Action<GatewayOptions>? options = null, bool validate = true) =>
        StartAsync(app => app.UseGatewayApp(validate ? GatewayValidator.Wrap(gatewayApp) : gatewayApp, options ?? (_ => { })), kestrel);

    public static async Task<TestApp> StartAsync(
        Action<WebApplication> pipeline,
        bool kestrel = false,
        Action<WebApplicationBuilder>? configure = null)
    {
        var builder = WebApplication.CreateSlimBuilder(new WebApplicationOptions { EnvironmentName = "Production" });
        var logs = new ListLoggerProvider();
        builder.Logging.ClearProviders().AddProvider(logs).SetMinimumLevel(LogLevel.Debug);
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
        pipeline(app);
        await app.StartAsync();

        if (!kestrel)
        {
            return new TestApp(app, app.GetTestClient(), 0, logs);
        }

        var address = app.Services.GetRequiredService<IServer>().Features.GetRequiredFeature<IServerAddressesFeature>().Addresses.Single();
        var port = new Uri(address).Port;
        var client = new HttpClient { BaseAddress = new Uri($"http://127.0.0.1:{port}"), Timeout = TimeSpan.FromSeconds(20) };
        return new TestApp(app, client, port, logs);
    }

    public RawConnection Connect(int? receiveBuffer = null) => RawConnection.Open(Port, receiveBuffer);

    public async ValueTask DisposeAsync()
    {
        Client.Dispose();
        using var stop = new CancellationTokenSource(TimeSpan.FromSeconds(5));
        await App.StopAsync(stop.Token);
        await App.DisposeAsync();
    }
}
