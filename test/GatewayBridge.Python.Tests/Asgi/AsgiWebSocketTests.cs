using System.Net;
using System.Net.WebSockets;
using System.Text;
using static GatewayBridge.Python.Tests.Workers.WorkerHost;

namespace GatewayBridge.Python.Tests.Asgi;

/// <summary>The ASGI WebSocket protocol over ASP.NET Core's WebSockets, in both modes, over real sockets.</summary>
public class AsgiWebSocketTests(AsgiHosts hosts) : IClassFixture<AsgiHosts>
{
    private async Task<ClientWebSocket> ConnectAsync(int workers, string path, params string[] subprotocols)
    {
        var socket = new ClientWebSocket();
        socket.Options.CollectHttpResponseDetails = true;
        foreach (var subprotocol in subprotocols)
        {
            socket.Options.AddSubProtocol(subprotocol);
        }

        await socket.ConnectAsync(new Uri($"ws://127.0.0.1:{hosts[workers].Port}{path}"), CancellationToken.None);
        return socket;
    }

    private static async Task<(string Text, WebSocketMessageType Type)> ReceiveAsync(WebSocket socket)
    {
        var buffer = new byte[64 * 1024];
        var result = await socket.ReceiveAsync(buffer, new CancellationTokenSource(TimeSpan.FromSeconds(10)).Token);
        return (Encoding.UTF8.GetString(buffer, 0, result.Count), result.MessageType);
    }

    [Theory]
    [MemberData(nameof(AsgiHost.Modes), MemberType = typeof(AsgiHost))]
    public async Task TextAndBinaryMessages_GoBothWays_WithTheSubprotocolAndHeadersTheAppAccepted(int workers)
    {
        using var socket = await ConnectAsync(workers, "/ws/echo", "chat.v2", "chat.v1");

        await socket.SendAsync(Encoding.UTF8.GetBytes("héllo"), WebSocketMessageType.Text, true, CancellationToken.None);
        var text = await ReceiveAsync(socket);
        await socket.SendAsync(new byte[] { 1, 2, 3 }, WebSocketMessageType.Binary, true, CancellationToken.None);
        var buffer = new byte[16];
        var binary = await socket.ReceiveAsync(buffer, CancellationToken.None);

        Assert.Equal("chat.v2", socket.SubProtocol);
        Assert.Equal("yes", socket.HttpResponseHeaders!["x-accepted"].Single());
        Assert.Equal(("echo: héllo", WebSocketMessageType.Text), text);
        Assert.Equal(WebSocketMessageType.Binary, binary.MessageType);
        Assert.Equal(new byte[] { 3, 2, 1 }, buffer[..binary.Count]);
        await socket.CloseAsync(WebSocketCloseStatus.NormalClosure, null, CancellationToken.None);
    }

    [Theory]
    [InlineData(0, "/ws/reserved_close", "RFC 6455 lets an endpoint send")]
    [InlineData(1, "/ws/reserved_close", "RFC 6455 lets an endpoint send")]
    [InlineData(0, "/ws/huge", "GatewayBridge sends at most 16777216 bytes in one message")]
    [InlineData(1, "/ws/huge", "GatewayBridge sends at most 16777216 bytes in one message")]
    public async Task ACloseCodeNoEndpointMaySend_OrAMessageOverTheLimit_IsTheAppsError_ClosedWith1011(int workers, string path, string rule)
    {
        var host = hosts[workers];
        var pid = await host.Client.GetStringAsync("/pid");
        using var socket = await ConnectAsync(workers, path);

        var (_, type) = await ReceiveAsync(socket);

        Assert.Equal(WebSocketMessageType.Close, type);
        Assert.Equal(WebSocketCloseStatus.InternalServerError, socket.CloseStatus);
        await host.Logs.WaitForAsync(e => e.EventId.Name == "AsgiAppFailed" && e.Exception!.Message.Contains(rule, StringComparison.Ordinal));
        Assert.Equal(pid, await host.Client.GetStringAsync("/pid"));
    }

    [Theory]
    [MemberData(nameof(AsgiHost.Modes), MemberType = typeof(AsgiHost))]
    public async Task TheClientsCloseCode_ReachesTheApp(int workers)
    {
        var marker = TempPath("ws");
        using var socket = await ConnectAsync(workers, $"/ws/echo?path={marker}");

        await socket.CloseAsync((WebSocketCloseStatus)4002, "client says bye", CancellationToken.None);

        await Eventually.HoldsAsync(() => File.Exists(marker) && File.ReadAllText(marker).Length > 0, "the app's websocket.disconnect");
        Assert.Equal("disconnect 4002", await File.ReadAllTextAsync(marker));
        Assert.Equal(WebSocketState.Closed, socket.State);
        File.Delete(marker);
    }

    [Theory]
    [MemberData(nameof(AsgiHost.Modes), MemberType = typeof(AsgiHost))]
    public async Task AClientThatGoesWithoutClosing_Is1006ForTheApp(int workers)
    {
        var marker = TempPath("ws");
        var socket = await ConnectAsync(workers, $"/ws/echo?path={marker}");

        socket.Abort();
        socket.Dispose();

        await Eventually.HoldsAsync(() => File.Exists(marker) && File.ReadAllText(marker).Length > 0, "the app's websocket.disconnect");
        Assert.Equal("disconnect 1006", await File.ReadAllTextAsync(marker));
        File.Delete(marker);
    }

    [Theory]
    [MemberData(nameof(AsgiHost.Modes), MemberType = typeof(AsgiHost))]
    public async Task TheAppsCloseCodeAndReason_ReachTheClient(int workers)
    {
        using var socket = await ConnectAsync(workers, "/ws/close");

        var result = await socket.ReceiveAsync(new byte[16], CancellationToken.None);

        Assert.Equal(WebSocketMessageType.Close, result.MessageType);
        Assert.Equal(4001, (int)socket.CloseStatus!);
        Assert.Equal("app says bye", socket.CloseStatusDescription);
    }

    [Theory]
    [MemberData(nameof(AsgiHost.Modes), MemberType = typeof(AsgiHost))]
    public async Task AnAppThatAsksForTheClose_GetsItsCodeToTheClient(int workers)
    {
        using var socket = await ConnectAsync(workers, "/ws/echo");

        await socket.SendAsync(Encoding.UTF8.GetBytes("close please"), WebSocketMessageType.Text, true, CancellationToken.None);
        var result = await socket.ReceiveAsync(new byte[16], CancellationToken.None);

        Assert.Equal(WebSocketMessageType.Close, result.MessageType);
        Assert.Equal(4000, (int)socket.CloseStatus!);
    }

    [Theory]
    [InlineData(0, "/ws/deny", HttpStatusCode.Forbidden)]
    [InlineData(1, "/ws/deny", HttpStatusCode.Forbidden)]
    [InlineData(0, "/ws/raise", HttpStatusCode.InternalServerError)]
    [InlineData(1, "/ws/raise", HttpStatusCode.InternalServerError)]
    [InlineData(0, "/ws/no_accept", HttpStatusCode.InternalServerError)]
    [InlineData(1, "/ws/no_accept", HttpStatusCode.InternalServerError)]
    public async Task AHandshakeTheAppDoesNotAccept_IsRefused_WithTheStatusUvicornGives(int workers, string path, HttpStatusCode status)
    {
        using var socket = new ClientWebSocket();
        socket.Options.CollectHttpResponseDetails = true;

        await Assert.ThrowsAsync<WebSocketException>(() => socket.ConnectAsync(new Uri($"ws://127.0.0.1:{hosts[workers].Port}{path}"), CancellationToken.None));

        Assert.Equal(status, socket.HttpStatusCode);
        Assert.Equal("Hello, ASGI!", await hosts[workers].Client.GetStringAsync("/hello"));
    }

    [Theory]
    [MemberData(nameof(AsgiHost.Modes), MemberType = typeof(AsgiHost))]
    public async Task SendingOnAClosedWebSocket_IsOneEventNamingTheRule(int workers)
    {
        using var socket = await ConnectAsync(workers, "/ws/send_after_close");

        var result = await socket.ReceiveAsync(new byte[16], CancellationToken.None);

        Assert.Equal(WebSocketMessageType.Close, result.MessageType);
        var failure = await hosts[workers].Logs.WaitForAsync(e => e.EventId.Name == "AsgiAppFailed" && e.Message.Contains("/ws/send_after_close", StringComparison.Ordinal));
        Assert.Contains("websocket.send on a WebSocket that is not open", failure[0].Exception!.Message, StringComparison.Ordinal);
    }
}
