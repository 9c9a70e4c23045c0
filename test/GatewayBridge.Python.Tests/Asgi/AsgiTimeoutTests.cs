using System.Net;
using GatewayBridge.Python.Tests.Infrastructure;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.DependencyInjection;

namespace GatewayBridge.Python.Tests.Asgi;

/// <summary>
/// ASP.NET Core's request timeouts end an ASGI request as they end a WSGI one (GatewayBridge's AbortedRequest): a 504
/// before the response started, a cut connection after, logged once as a timeout, never as a client that left.
/// </summary>
public class AsgiTimeoutTests
{
    [Theory]
    [MemberData(nameof(AsgiHost.Modes), MemberType = typeof(AsgiHost))]
    public async Task ATimeoutBeforeTheResponseStarts_IsA504FromAspNet(int workers)
    {
        await using var host = await StartAsync(workers, TimeSpan.FromMilliseconds(300));

        using var response = await host.Client.GetAsync("/app/held?ms=10000");

        Assert.Equal(HttpStatusCode.GatewayTimeout, response.StatusCode);
        Assert.Single(await host.Logs.WaitForAsync(e => e.EventId.Name == "RequestTimedOut"));
        Assert.DoesNotContain(host.Logs.Entries, e => e.EventId.Name == "RequestAborted");
    }

    [Theory]
    [MemberData(nameof(AsgiHost.Modes), MemberType = typeof(AsgiHost))]
    public async Task ATimeoutAfterTheResponseStarted_CutsTheConnection_SoTheBodyCannotPassForWhole(int workers)
    {
        await using var host = await StartAsync(workers, TimeSpan.FromSeconds(1));
        using var connection = host.Connect();

        await connection.SendAsync("GET /app/ticks HTTP/1.1\r\nHost: t\r\n\r\n");
        var (text, closed) = await connection.ReadToCloseAsync(TimeSpan.FromSeconds(8));

        Assert.True(closed, "a timed-out stream must end, not run on");
        Assert.Contains("tick;", text, StringComparison.Ordinal);
        Assert.DoesNotContain("0\r\n\r\n", text, StringComparison.Ordinal);
        Assert.Single(await host.Logs.WaitForAsync(e => e.EventId.Name == "RequestTimedOut"));
        Assert.DoesNotContain(host.Logs.Entries, e => e.EventId.Name == "RequestAborted");
    }

    private static Task<TestHost> StartAsync(int workers, TimeSpan timeout) =>
        PythonTestHost.StartAsync(
            app =>
            {
                app.UseRequestTimeouts();
                app.MapPythonAsgiApp("/app", "asgi_apps:router").WithRequestTimeout(timeout);
            },
            kestrel: true,
            python: o =>
            {
                o.Workers = workers;

                // What the host cut is still the app's to finish (it may never call receive()): its stop waits for it
                // half of this long.
                o.GracefulTimeout = TimeSpan.FromSeconds(2);
            },
            configure: builder => builder.Services.AddRequestTimeouts());
}
