using System.Net;
using System.Net.Http.Json;
using System.Net.WebSockets;
using System.Text;
using System.Text.Json;
using Microsoft.AspNetCore.Mvc.Testing;

namespace PythonApps.Tests;

/// <summary>
/// The FastAPI service at /api/v2, pinned as a team pins it before porting its routes to C#: HTTP through
/// WebApplicationFactory's client, the WebSocket through TestServer's WebSocket client.
/// </summary>
public class FastApiServiceTests(WebApplicationFactory<Program> factory) : IClassFixture<WebApplicationFactory<Program>>
{
    private readonly HttpClient _client = factory.CreateClient();

    [Fact]
    public async Task AnItem_LoadedAtStartup_IsServed_AndAMissingOneIsFastApisOwn404()
    {
        var item = JsonDocument.Parse(await _client.GetStringAsync("/api/v2/items/1")).RootElement;
        using var missing = await _client.GetAsync("/api/v2/items/999");

        Assert.Equal("kettle", item.GetProperty("name").GetString());
        Assert.Equal(25.0, item.GetProperty("price").GetDouble());
        Assert.Equal(HttpStatusCode.NotFound, missing.StatusCode);
        Assert.Equal("""{"detail":"no such item"}""", await missing.Content.ReadAsStringAsync());
    }

    [Fact]
    public async Task APut_IsValidatedByPydantic_AndStored()
    {
        using var invalid = await _client.PutAsJsonAsync("/api/v2/items/5", new { name = "lamp" });
        using var stored = await _client.PutAsJsonAsync("/api/v2/items/5", new { name = "lamp", price = 12.5 });

        Assert.Equal(HttpStatusCode.UnprocessableEntity, invalid.StatusCode);
        Assert.Contains("price", await invalid.Content.ReadAsStringAsync(), StringComparison.Ordinal);
        Assert.Equal(HttpStatusCode.Created, stored.StatusCode);
        Assert.Equal(12.5, JsonDocument.Parse(await _client.GetStringAsync("/api/v2/items/5")).RootElement.GetProperty("price").GetDouble());
    }

    [Fact]
    public async Task TheService_KnowsItsMountPoint_AsUvicornsRootPathTellsIt()
    {
        var where = JsonDocument.Parse(await _client.GetStringAsync("/api/v2/where")).RootElement;

        Assert.Equal("/api/v2", where.GetProperty("root_path").GetString());
        Assert.Equal("http://localhost/api/v2/items/1", where.GetProperty("url").GetString());
    }

    [Fact]
    public async Task TheWebSocket_AnswersPrices_AndClosesWhenAsked()
    {
        var client = factory.Server.CreateWebSocketClient();
        using var socket = await client.ConnectAsync(new Uri("ws://localhost/api/v2/ws/prices"), CancellationToken.None);

        await socket.SendAsync(Encoding.UTF8.GetBytes("1"), WebSocketMessageType.Text, true, CancellationToken.None);
        var buffer = new byte[1024];
        var answer = await socket.ReceiveAsync(buffer, CancellationToken.None);
        await socket.SendAsync(Encoding.UTF8.GetBytes("bye"), WebSocketMessageType.Text, true, CancellationToken.None);
        var close = await socket.ReceiveAsync(buffer, CancellationToken.None);

        Assert.Equal("""{"id": "1", "price": 25.0}""", Encoding.UTF8.GetString(buffer, 0, answer.Count));
        Assert.Equal(WebSocketMessageType.Close, close.MessageType);
        Assert.Equal(WebSocketCloseStatus.NormalClosure, socket.CloseStatus);
    }
}
