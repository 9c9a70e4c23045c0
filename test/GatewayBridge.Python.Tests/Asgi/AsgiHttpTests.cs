using System.Net;
using System.Text.Json;

namespace GatewayBridge.Python.Tests.Asgi;

/// <summary>ASGI HTTP requests and responses, in both modes, over real sockets.</summary>
public class AsgiHttpTests
{
    [Theory]
    [MemberData(nameof(AsgiHost.Modes), MemberType = typeof(AsgiHost))]
    public async Task AHello_IsServed_BesideANativeEndpoint(int workers)
    {
        await using var host = await AsgiHost.StartAsync(workers);

        var response = await host.Client.GetAsync("/hello");

        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        Assert.Equal("Hello, ASGI!", await response.Content.ReadAsStringAsync());
        Assert.Equal(12, response.Content.Headers.ContentLength);
        Assert.Equal("native", await host.Client.GetStringAsync("/native"));
    }

    [Theory]
    [MemberData(nameof(AsgiHost.Modes), MemberType = typeof(AsgiHost))]
    public async Task TheBody_ReachesTheApp_InPiecesWithMoreBody(int workers)
    {
        await using var host = await AsgiHost.StartAsync(workers);
        var body = new byte[300_000];
        Random.Shared.NextBytes(body);

        var answer = await host.Client.PostAsync("/echo", new ByteArrayContent(body));
        using var json = JsonDocument.Parse(await answer.Content.ReadAsStringAsync());

        Assert.Equal(body.Length, json.RootElement.GetProperty("length").GetInt32());
        Assert.True(json.RootElement.GetProperty("messages").GetInt32() > 1);
        Assert.Equal(body.Sum(b => (long)b) % 1000003, json.RootElement.GetProperty("checksum").GetInt64());
    }
}
