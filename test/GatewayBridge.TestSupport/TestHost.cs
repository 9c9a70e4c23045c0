using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;
using Microsoft.AspNetCore.Http.Features;
using Microsoft.AspNetCore.TestHost;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;

namespace GatewayBridge.TestSupport;

/// <summary>
/// A host under test, in memory (TestServer) or on a real Kestrel socket on 127.0.0.1:0, in the Production
/// environment, with every log event recorded.
/// </summary>
public sealed class TestHost : IAsyncDisposable
{
    private TestHost(WebApplication app, HttpClient client, int port, ListLoggerProvider logs)
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

    /// <summary>Builds a host, lets <paramref name="pipeline"/> set up its middleware and endpoints, and starts it.</summary>
    public static async Task<TestHost> StartAsync(
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
        try
        {
            pipeline(app);
            await app.StartAsync();
        }
        catch
        {
            await app.DisposeAsync();
            throw;
        }

        if (!kestrel)
        {
            return new TestHost(app, app.GetTestClient(), 0, logs);
        }

        var address = app.Services.GetRequiredService<IServer>().Features.GetRequiredFeature<IServerAddressesFeature>().Addresses.Single();
        var port = new Uri(address).Port;
        var client = new HttpClient { BaseAddress = new Uri($"http://127.0.0.1:{port}"), Timeout = TimeSpan.FromSeconds(20) };
        return new TestHost(app, client, port, logs);
    }

    public RawConnection Connect(int? receiveBuffer = null) => RawConnection.Open(Port, receiveBuffer);

    public async ValueTask DisposeAsync()
    {
        Client.Dispose();
        using var stop = new CancellationTokenSource(TimeSpan.FromSeconds(10));
        await App.StopAsync(stop.Token);
        await App.DisposeAsync();
    }
}
