using System.Globalization;
using System.Net;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Http.Features;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;

namespace GatewayBridge;

/// <summary>
/// A ready Kestrel server for one gateway app, after CPython's <c>wsgiref.simple_server</c>: it binds when made,
/// serves with <see cref="ServeForever"/> or <see cref="RunAsync"/>, and writes one access line per request.
/// </summary>
public sealed class GatewayServer : IAsyncDisposable, IDisposable
{
    private readonly WebApplication _app;
    private readonly string _host;
    private int _disposed;

    private GatewayServer(WebApplication app, string host, int port)
    {
        _app = app;
        _host = host;
        Port = port;
    }

    /// <summary>The bound port: the one asked for, or the free one the system chose for port 0.</summary>
    public int Port { get; }

    /// <summary>The address the server answers on, such as <c>http://127.0.0.1:8000</c>.</summary>
    public string Url => $"http://{(_host.Contains(':', StringComparison.Ordinal) ? $"[{_host}]" : _host)}:{Port}";

    /// <summary>Where <c>Serving on ...</c> and the access lines go. The default value is <see cref="Console.Error"/>.</summary>
    public TextWriter Log { get; set; } = Console.Error;

    /// <summary>
    /// Makes a server for <paramref name="app"/> on <paramref name="host"/>:<paramref name="port"/> and binds it, as
    /// <c>make_server</c> does; port 0 picks a free port (see <see cref="Port"/>).
    /// </summary>
    /// <param name="host">An IP address, <c>localhost</c>, or "" for every interface.</param>
    /// <param name="port">The port, or 0 for any free one.</param>
    /// <param name="app">The gateway app.</param>
    /// <returns>The bound server.</returns>
    public static GatewayServer MakeServer(string host, int port, GatewayApp app)
    {
        ArgumentNullException.ThrowIfNull(host);
        ArgumentNullException.ThrowIfNull(app);
        ArgumentOutOfRangeException.ThrowIfNegative(port);
        ArgumentOutOfRangeException.ThrowIfGreaterThan(port, IPEndPoint.MaxPort);

        var address = ResolveHost(host);
        var builder = WebApplication.CreateSlimBuilder();
        builder.Logging.SetMinimumLevel(LogLevel.Warning);
        builder.WebHost.UseKestrel(k => k.Listen(address, port));
        var web = builder.Build();

        GatewayServer? server = null;
        web.Use((context, next) => server!.LogRequestAsync(context, next));
        web.UseGatewayApp(app, static options => options.ReportBytesSent = true);
        web.StartAsync().GetAwaiter().GetResult();

        var bound = web.Services.GetRequiredService<IServer>().Features.GetRequiredFeature<IServerAddressesFeature>().Addresses.First();
        server = new GatewayServer(web, host.Length == 0 ? "0.0.0.0" : host, new Uri(bound).Port);
        return server;
    }

    /// <summary>Serves until the process is asked to stop (Ctrl+C or SIGTERM); blocks the calling thread.</summary>
    public void ServeForever()
    {
        Log.WriteLine($"Serving on {Url}");
        _app.WaitForShutdown();
    }

    /// <summary>Serves until <paramref name="cancellationToken"/> fires, then stops gracefully.</summary>
    /// <param name="cancellationToken">Stops the server.</param>
    /// <returns>A task that completes when the server has stopped.</returns>
    public async Task RunAsync(CancellationToken cancellationToken)
    {
        Log.WriteLine($"Serving on {Url}");
        var stopped = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        using (cancellationToken.Register(() => stopped.TrySetResult()))
        using (_app.Lifetime.ApplicationStopping.Register(() => stopped.TrySetResult()))
        {
            await stopped.Task;
        }

        await _app.StopAsync(CancellationToken.None);
    }

    /// <inheritdoc/>
    public async ValueTask DisposeAsync()
    {
        if (Interlocked.Exchange(ref _disposed, 1) == 0)
        {
            await _app.StopAsync(CancellationToken.None);
            await _app.DisposeAsync();
        }
    }

    /// <inheritdoc/>
    public void Dispose() => DisposeAsync().AsTask().GetAwaiter().GetResult();

    private static IPAddress ResolveHost(string host)
    {
        if (host.Length == 0 || host is "*")
        {
            return IPAddress.Any;
        }

        if (string.Equals(host, "localhost", StringComparison.OrdinalIgnoreCase))
        {
            // Kestrel cannot bind 'localhost' to a dynamic port; the IPv4 loopback is what make_server binds too.
            return IPAddress.Loopback;
        }

        return IPAddress.TryParse(host, out var address) ? address : Dns.GetHostAddresses(host)[0];
    }

    private async Task LogRequestAsync(HttpContext context, RequestDelegate next)
    {
        var bytes = new ResponseBytesFeature();
        context.Features.Set(bytes);
        try
        {
            await next(context);
        }
        finally
        {
            var request = context.Request;
            var target = context.Features.Feature<IHttpRequestFeature>()?.RawTarget is { Length: > 0 } raw ? raw : request.Path + request.QueryString;
            var remote = context.Connection.RemoteIpAddress is { } ip ? EnvironFormat.Address(ip) : "-";
            var time = DateTime.Now.ToString("dd/MMM/yyyy HH:mm:ss", CultureInfo.InvariantCulture);
            var line = $"{remote} - - [{time}] \"{request.Method} {target} {request.Protocol}\" {context.Response.StatusCode} {bytes.BytesSent}";
            lock (Log)
            {
                Log.WriteLine(line);
            }
        }
    }
}

/// <summary>Set by a host that wants to know how many body bytes the bridge sent (the access log).</summary>
internal sealed class ResponseBytesFeature
{
    public long BytesSent { get; set; }
}
