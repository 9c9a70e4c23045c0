using System.Net.Sockets;
using System.Text;
using System.Text.Json;
using GatewayBridge.Python.Tests.Infrastructure;
using Microsoft.AspNetCore.Builder;

namespace GatewayBridge.Python.Tests.Asgi;

/// <summary>
/// The same raw requests to uvicorn (<c>--root-path /prefix</c>, sent what a proxy that strips the prefix sends it)
/// and to GatewayBridge (<c>MapPythonAsgiApp("/prefix", ...)</c>, sent the request as the client made it), with one
/// scope-dumping app: every scope key agrees but the deliberate differences README lists.
/// </summary>
public class AsgiDifferentialTests(UvicornServer uvicorn) : IClassFixture<UvicornServer>
{
    /// <summary>The scope keys that differ on purpose, and why: README's table says the same.</summary>
    public static readonly IReadOnlyDictionary<string, string> Differences = new Dictionary<string, string>
    {
        ["client"] = "the client's port (each server sees its own connection); the host agrees",
        ["server"] = "the server's port; the host agrees",
        ["raw_path"] = "with the mount prefix, as Kestrel received it (uvicorn behind a stripping proxy never sees it); bytes for a WebSocket too (uvicorn 0.17.6 gives a str there)",
        ["headers"] = "the same pairs, in Kestrel's order (the headers it knows first) rather than the wire's; a request the host traces has the host's app span as its traceparent, as behind a tracing proxy",
        ["state"] = "the lifespan state, copied per request (uvicorn 0.21 and later do this; 0.17.6 has no state)",
    };

    private static readonly (string Name, string Request)[] RequestBytes =
    [
        ("plain", "GET /prefix/items/caf%C3%A9?q=1&r=%20 HTTP/1.1\r\nHost: example.test\r\nUser-Agent: diff\r\nAccept: */*\r\n\r\n"),
        ("encoded slash", "GET /prefix/a%2Fb/c HTTP/1.1\r\nHost: example.test\r\n\r\n"),
        ("post with repeated headers", "POST /prefix/form HTTP/1.1\r\nHost: example.test\r\nContent-Type: text/plain\r\nContent-Length: 5\r\nX-Tag: one\r\nX-Tag: two\r\n\r\nhello"),
        ("the mount point itself", "GET /prefix HTTP/1.1\r\nHost: example.test\r\n\r\n"),
        ("http/1.0", "GET /prefix/old HTTP/1.0\r\nHost: example.test\r\n\r\n"),
    ];

    /// <summary>Each request, in the host's interpreter (0 workers) and in a worker process (1).</summary>
    public static TheoryData<string, string, int> Requests
    {
        get
        {
            var data = new TheoryData<string, string, int>();
            foreach (var (name, request) in RequestBytes)
            {
                data.Add(name, request, 0);
                data.Add(name, request, 1);
            }

            return data;
        }
    }

    [Theory]
    [MemberData(nameof(Requests))]
    public async Task TheHttpScope_IsUvicorns_ButForTheDeliberateDifferences(string name, string request, int workers)
    {
        await using var host = await StartAsync(workers);
        var ours = Scope(await ExchangeAsync(host.Port, request));
        var theirs = Scope(await ExchangeAsync(uvicorn.Port, StripPrefix(request)));

        Compare(name, ours, theirs);
    }

    [Theory]
    [MemberData(nameof(AsgiHost.Modes), MemberType = typeof(AsgiHost))]
    public async Task TheWebSocketScope_IsUvicorns_ButForTheDeliberateDifferences(int workers)
    {
        const string handshake = "GET /prefix/ws/live?x=1 HTTP/1.1\r\nHost: example.test\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n" +
            "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\nSec-WebSocket-Protocol: chat.v2, chat.v1\r\n\r\n";
        await using var host = await StartAsync(workers);

        var ours = JsonDocument.Parse(await FirstMessageAsync(host.Port, handshake)).RootElement;
        var theirs = JsonDocument.Parse(await FirstMessageAsync(uvicorn.Port, StripPrefix(handshake))).RootElement;

        Compare("websocket", ours, theirs);
        Assert.Equal("websocket", ours.GetProperty("type").GetString());
        Assert.Equal(["chat.v2", "chat.v1"], ours.GetProperty("subprotocols").EnumerateArray().Select(e => e.GetString()));
    }

    private static void Compare(string name, JsonElement ours, JsonElement theirs)
    {
        var keys = ours.EnumerateObject().Select(p => p.Name).Union(theirs.EnumerateObject().Select(p => p.Name)).Order();
        foreach (var key in keys.Except(Differences.Keys))
        {
            Assert.True(ours.TryGetProperty(key, out var mine), $"{name}: GatewayBridge's scope has no '{key}'");
            Assert.True(theirs.TryGetProperty(key, out var other), $"{name}: uvicorn's scope has no '{key}'");
            Assert.True(mine.GetRawText() == other.GetRawText(), $"{name}: '{key}' is {mine.GetRawText()} here, {other.GetRawText()} in uvicorn");
        }

        // Where they differ, they differ only as README says.
        Assert.Equal(theirs.GetProperty("client")[0].GetRawText(), ours.GetProperty("client")[0].GetRawText());
        Assert.Equal(theirs.GetProperty("server")[0].GetRawText(), ours.GetProperty("server")[0].GetRawText());
        // uvicorn 0.17.6 gives a WebSocket's raw_path as a str, where the spec (and its HTTP scope) has bytes.
        var theirsRaw = theirs.GetProperty("raw_path") is { ValueKind: JsonValueKind.String } text ? text.GetString()! : Bytes(theirs.GetProperty("raw_path"));
        var oursRaw = Bytes(ours.GetProperty("raw_path"));
        Assert.True(oursRaw == "/prefix" + theirsRaw || (oursRaw == "/prefix" && theirsRaw == "/"), $"{name}: raw_path {oursRaw} here, {theirsRaw} in uvicorn");
        Assert.Equal(Pairs(theirs).Order(), Pairs(ours).Order());
        Assert.False(theirs.TryGetProperty("state", out _));
        Assert.Equal(JsonValueKind.Object, ours.GetProperty("state").ValueKind);
    }

    private static string Bytes(JsonElement value) => value.GetProperty("bytes").GetString()!;

    private static IEnumerable<string> Pairs(JsonElement scope) =>
        scope.GetProperty("headers").EnumerateArray().Select(p => Bytes(p[0]) + ": " + Bytes(p[1]));

    private static string StripPrefix(string request) => request.Replace(" /prefix/", " /", StringComparison.Ordinal).Replace(" /prefix ", " / ", StringComparison.Ordinal);

    private static Task<TestHost> StartAsync(int workers) =>
        PythonTestHost.StartAsync(
            app =>
            {
                app.UseWebSockets();
                app.MapPythonAsgiApp("/prefix", "asgi_apps:dump");
            },
            kestrel: true,
            python: o => o.Workers = workers);

    private static JsonElement Scope(string response)
    {
        var body = response[(response.IndexOf("\r\n\r\n", StringComparison.Ordinal) + 4)..];
        return JsonDocument.Parse(body.Length > 0 ? body : "{}").RootElement;
    }

    private static async Task<string> ExchangeAsync(int port, string request)
    {
        using var connection = RawConnection.Open(port);
        await connection.SendAsync(request.Replace("\r\n\r\n", "\r\nConnection: close\r\n\r\n", StringComparison.Ordinal));
        return (await connection.ReadToCloseAsync(TimeSpan.FromSeconds(10))).Text;
    }

    // The first frame a WebSocket server sends: unmasked, text, short enough for a 16-bit length.
    private static async Task<string> FirstMessageAsync(int port, string handshake)
    {
        using var client = new TcpClient();
        await client.ConnectAsync("127.0.0.1", port);
        var stream = client.GetStream();
        await stream.WriteAsync(Encoding.ASCII.GetBytes(handshake));
        var buffer = new List<byte>();
        var chunk = new byte[65536];
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(10));
        while (true)
        {
            var read = await stream.ReadAsync(chunk, timeout.Token);
            Assert.True(read > 0, "the server closed before its first message");
            buffer.AddRange(chunk.AsSpan(0, read));
            var bytes = buffer.ToArray();
            var head = Encoding.Latin1.GetString(bytes).IndexOf("\r\n\r\n", StringComparison.Ordinal);
            if (head < 0 || bytes.Length < head + 6)
            {
                continue;
            }

            var frame = bytes.AsSpan(head + 4);
            int length = frame[1] & 0x7F, start = 2;
            if (length == 126)
            {
                length = (frame[2] << 8) | frame[3];
                start = 4;
            }

            if (frame.Length >= start + length)
            {
                return Encoding.UTF8.GetString(frame.Slice(start, length));
            }
        }
    }
}
