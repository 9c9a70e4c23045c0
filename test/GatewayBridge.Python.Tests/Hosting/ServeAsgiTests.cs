using System.Net.WebSockets;
using GatewayBridge.Python.Tests.Infrastructure;
using GatewayBridge.Serve;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;
using Microsoft.Extensions.DependencyInjection;

namespace GatewayBridge.Python.Tests.Hosting;

/// <summary><c>gatewaybridge serve module:app</c> for ASGI apps: <c>--interface</c>, or told by what the callable looks like.</summary>
public class ServeAsgiTests
{
    [Theory]
    [InlineData("asgi_apps:router", "asgi")]
    [InlineData("asgi_apps:recorder('/dev/null')", "asgi")]
    [InlineData("wsgi_apps:hello", "wsgi")]
    [InlineData("flaskapp:app", "wsgi")]
    [InlineData("fastapi_app:app", "asgi")]
    public void TheInterface_IsToldByWhatTheCallableLooksLike(string appSpec, string expected)
    {
        Assert.Equal(expected, PythonAppInterface.Detect(PythonTestHost.Python, [PythonTestHost.AppsFolder], appSpec));
    }

    [Fact]
    public void AnAppThatCannotBeImported_SaysWhy()
    {
        var error = Assert.Throws<InvalidOperationException>(() => PythonAppInterface.Detect(PythonTestHost.Python, [PythonTestHost.AppsFolder], "no_such_module:app"));

        Assert.Contains("No module named 'no_such_module'", error.Message, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("--workers", "1")]
    [InlineData("--interface", "asgi")]
    public async Task Serve_RunsAnAsgiApp_WithWebSockets(string option, string value)
    {
        var arguments = ServeArguments.Parse(["serve", "asgi_apps:router", "--python", PythonTestHost.Python, "--chdir", PythonTestHost.AppsFolder, option, value, "--urls", "http://127.0.0.1:0"]);
        await using var web = ServeCommand.BuildPython("asgi_apps:router", arguments);
        await web.StartAsync();
        var url = web.Services.GetRequiredService<IServer>().Features.Get<IServerAddressesFeature>()!.Addresses.Single();
        using var client = new HttpClient();

        Assert.Equal("Hello, ASGI!", await client.GetStringAsync(url + "/hello"));
        using var socket = new ClientWebSocket();
        await socket.ConnectAsync(new Uri(url.Replace("http://", "ws://", StringComparison.Ordinal) + "/ws/close"), CancellationToken.None);
        await socket.ReceiveAsync(new byte[16], CancellationToken.None);
        Assert.Equal(4001, (int)socket.CloseStatus!);
        await web.StopAsync();
    }

    [Fact]
    public void AnUnknownInterface_IsRefused()
    {
        var error = Assert.Throws<ArgumentException>(() => ServeArguments.Parse(["serve", "asgi_apps:router", "--interface", "rsgi"]));

        Assert.Contains("--interface is wsgi or asgi", error.Message, StringComparison.Ordinal);
    }
}
