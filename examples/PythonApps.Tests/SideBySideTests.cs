using System.Diagnostics;
using System.Net;
using System.Net.Http.Headers;
using System.Net.Http.Json;
using System.Text.Json;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;
using Microsoft.AspNetCore.Http.Features;
using Microsoft.AspNetCore.Mvc.Testing;
using Microsoft.Extensions.DependencyInjection;

namespace PythonApps.Tests;

/// <summary>Django, Pyramid and the XML-RPC service on the same server as the minimal API.</summary>
public class SideBySideTests(WebApplicationFactory<Program> factory) : IClassFixture<WebApplicationFactory<Program>>
{
    private readonly HttpClient _client = factory.CreateClient();

    [Fact]
    public async Task TheMinimalApi_AnswersBesideThePythonApps()
    {
        Assert.Equal("""{"status":"ok"}""", await _client.GetStringAsync("/api/health"));
    }

    [Fact]
    public async Task Django_IsBehindAspNetCoreAuthorization_AndSeesTheUserAsRemoteUser()
    {
        Assert.Equal(HttpStatusCode.Unauthorized, (await _client.GetAsync("/django/")).StatusCode);

        var login = await _client.PostAsJsonAsync("/api/login", new { user = "ada", password = "demo" });
        var token = JsonDocument.Parse(await login.Content.ReadAsStringAsync()).RootElement.GetProperty("accessToken").GetString();
        using var request = new HttpRequestMessage(HttpMethod.Get, "/django/items/7");
        request.Headers.Authorization = new AuthenticationHeaderValue("Bearer", token);
        var item = JsonDocument.Parse(await (await _client.SendAsync(request)).Content.ReadAsStringAsync()).RootElement;

        Assert.Equal(7, item.GetProperty("id").GetInt32());
        Assert.Equal("/django/items/7", item.GetProperty("url").GetString());
        Assert.Equal("ada", item.GetProperty("user").GetString());
    }

    [Fact]
    public async Task Pyramid_LoadedByItsFactory_KnowsItsMountPoint()
    {
        Assert.Equal("Hello from Pyramid at http://localhost/pyramid!", await _client.GetStringAsync("/pyramid/"));
        var info = JsonDocument.Parse(await _client.GetStringAsync("/pyramid/info")).RootElement;
        Assert.Equal("/pyramid", info.GetProperty("script_name").GetString());
    }

    [Fact]
    public async Task TheXmlRpcService_AnswersPythonsOwnXmlRpcClient()
    {
        // xmlrpc.client needs a real socket, so this one runs the example on Kestrel.
        using var kestrel = new WebApplicationFactory<Program>();
        kestrel.UseKestrel(0);
        kestrel.StartServer();
        var url = kestrel.Services.GetRequiredService<IServer>().Features.GetRequiredFeature<IServerAddressesFeature>().Addresses.First();

        var script = $"import xmlrpc.client as x; p = x.ServerProxy('{url}/rpc/'); p.put('k', [1, 'two']); print(p.add(2, 3), p.get('k'), sorted(p.system.listMethods())[:3])";
        using var python = Process.Start(new ProcessStartInfo("/usr/bin/python3", ["-c", script]) { RedirectStandardOutput = true, RedirectStandardError = true })!;
        var output = await python.StandardOutput.ReadToEndAsync();
        var error = await python.StandardError.ReadToEndAsync();
        await python.WaitForExitAsync();

        Assert.True(python.ExitCode == 0, error);
        Assert.Equal("5 [1, 'two'] ['add', 'get', 'put']", output.Trim());
        Assert.Equal(HttpStatusCode.MethodNotAllowed, (await _client.GetAsync("/rpc/")).StatusCode);
    }
}
