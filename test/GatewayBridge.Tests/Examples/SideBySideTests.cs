extern alias SideBySide;

using System.Net;
using System.Net.Http.Headers;
using System.Net.Http.Json;
using System.Text.Json;
using Microsoft.AspNetCore.Mvc.Testing;

namespace GatewayBridge.Tests.Examples;

public class SideBySideTests(WebApplicationFactory<SideBySide::Program> factory) : IClassFixture<WebApplicationFactory<SideBySide::Program>>
{
    [Fact]
    public async Task ApiEndpoints_AreServedByMinimalApis()
    {
        var body = await factory.CreateClient().GetFromJsonAsync<JsonElement>("/api/hello?name=Ada");
        Assert.Equal("Hello, Ada!", body.GetProperty("greeting").GetString());
    }

    [Theory]
    [InlineData("/")]
    [InlineData("/about")]
    [InlineData("/api/not-ported-yet")]
    public async Task EverythingElse_FallsBackToTheLegacySite(string path)
    {
        var body = await factory.CreateClient().GetStringAsync(path);
        Assert.Equal($"<p>legacy site: {path}</p>", body);
    }

    [Fact]
    public async Task LegacyAdmin_WithoutAToken_Is401()
    {
        var response = await factory.CreateClient().GetAsync("/legacy/reports");
        Assert.Equal(HttpStatusCode.Unauthorized, response.StatusCode);
    }

    [Fact]
    public async Task LegacyAdmin_WithAToken_SeesTheUserAndItsMountPoint()
    {
        var client = factory.CreateClient();
        var login = await client.PostAsJsonAsync("/api/login", new { user = "ada", password = "demo" });
        var token = (await login.Content.ReadFromJsonAsync<JsonElement>()).GetProperty("accessToken").GetString();

        var request = new HttpRequestMessage(HttpMethod.Get, "/legacy/reports");
        request.Headers.Authorization = new AuthenticationHeaderValue("Bearer", token);
        var response = await client.SendAsync(request);

        Assert.Equal("legacy admin /legacy/reports for ada", await response.Content.ReadAsStringAsync());
    }

    [Fact]
    public async Task BadLogin_IsRefused()
    {
        var login = await factory.CreateClient().PostAsJsonAsync("/api/login", new { user = "ada", password = "nope" });
        Assert.Equal(HttpStatusCode.Unauthorized, login.StatusCode);
    }
}
