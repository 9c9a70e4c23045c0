extern alias HelloGateway;

using System.Net;
using Microsoft.AspNetCore.Mvc.Testing;

namespace GatewayBridge.Tests.Examples;

public class HelloGatewayTests(WebApplicationFactory<HelloGateway::Program> factory) : IClassFixture<WebApplicationFactory<HelloGateway::Program>>
{
    [Theory]
    [InlineData("/alice", "<h1>Hello, alice!</h1>")]
    [InlineData("/", "<h1>Hello, web!</h1>")]
    [InlineData("/%3Cb%3E", "<h1>Hello, &lt;b&gt;!</h1>")]
    public async Task Greets_ThePathInfo_AsHtml(string url, string expected)
    {
        var response = await factory.CreateClient().GetAsync(url);

        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        Assert.Equal("text/html; charset=utf-8", response.Content.Headers.ContentType?.ToString());
        Assert.Equal(expected, await response.Content.ReadAsStringAsync());
    }

    [Fact]
    public async Task NativeEndpoint_WinsOverTheGatewayApp()
    {
        Assert.Equal("ok", await factory.CreateClient().GetStringAsync("/healthz"));
    }
}
