using System.Net;
using System.Text.Json;
using GatewayBridge.Python.Tests.Workers;

namespace GatewayBridge.Python.Tests.Asgi;

/// <summary>ASGI HTTP requests and responses, in both modes, over real sockets.</summary>
public class AsgiHttpTests(AsgiHosts hosts) : IClassFixture<AsgiHosts>
{
    [Theory]
    [MemberData(nameof(AsgiHost.Modes), MemberType = typeof(AsgiHost))]
    public async Task AHello_IsServed_WithItsContentLength_BesideANativeEndpoint(int workers)
    {
        var host = hosts[workers];

        using var response = await host.Client.GetAsync("/hello");

        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        Assert.Equal("Hello, ASGI!", await response.Content.ReadAsStringAsync());
        Assert.Equal(12, response.Content.Headers.ContentLength);
        Assert.Equal("native", await host.Client.GetStringAsync("/native"));
    }

    [Theory]
    [MemberData(nameof(AsgiHost.Modes), MemberType = typeof(AsgiHost))]
    public async Task TheBody_ReachesTheApp_InPiecesWithMoreBody(int workers)
    {
        var body = new byte[300_000];
        Random.Shared.NextBytes(body);

        using var answer = await hosts[workers].Client.PostAsync("/echo", new ByteArrayContent(body));
        using var json = JsonDocument.Parse(await answer.Content.ReadAsStringAsync());

        Assert.Equal(body.Length, json.RootElement.GetProperty("length").GetInt32());
        Assert.True(json.RootElement.GetProperty("messages").GetInt32() > 1);
        Assert.Equal(body.Sum(b => (long)b) % 1000003, json.RootElement.GetProperty("checksum").GetInt64());
    }

    [Theory]
    [MemberData(nameof(AsgiHost.Modes), MemberType = typeof(AsgiHost))]
    public async Task AChunkedUpload_ReachesTheAppWhole(int workers)
    {
        using var connection = hosts[workers].Connect();

        await connection.SendAsync("POST /echo HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked\r\nConnection: close\r\n\r\n5\r\nhello\r\n6\r\n world\r\n0\r\n\r\n");
        var response = RawResponse.Parse((await connection.ReadToCloseAsync(TimeSpan.FromSeconds(10))).Text);

        Assert.Contains("\"length\": 11", response.Body, StringComparison.Ordinal);
    }

    [Theory]
    [MemberData(nameof(AsgiHost.Modes), MemberType = typeof(AsgiHost))]
    public async Task AStreamedResponse_IsChunked_EachPieceAsSent(int workers)
    {
        using var connection = hosts[workers].Connect();

        await connection.SendAsync("GET /stream?n=4&size=3 HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n");
        var response = RawResponse.Parse((await connection.ReadToCloseAsync(TimeSpan.FromSeconds(10))).Text);

        Assert.True(response.Chunked);
        Assert.True(response.Complete);
        Assert.Equal("AAABBBCCCDDD", response.Body);
    }

    [Theory]
    [MemberData(nameof(AsgiHost.Modes), MemberType = typeof(AsgiHost))]
    public async Task Headers_GoOutAsTheAppSentThem_RepeatedOnesRepeated(int workers)
    {
        using var response = await hosts[workers].Client.GetAsync("/headers");

        Assert.Equal(HttpStatusCode.Created, response.StatusCode);
        Assert.Equal(["a=1", "b=2"], response.Headers.GetValues("Set-Cookie"));
        Assert.Equal("1", Assert.Single(response.Headers.GetValues("x-one")));
        Assert.Equal("made", await response.Content.ReadAsStringAsync());
    }

    [Theory]
    [InlineData(0, "HEAD", "/hello", "HTTP/1.1 200", "Content-Length: 12", "")]
    [InlineData(1, "HEAD", "/hello", "HTTP/1.1 200", "Content-Length: 12", "")]
    [InlineData(0, "GET", "/status?code=204", "HTTP/1.1 204", null, "")]
    [InlineData(1, "GET", "/status?code=204", "HTTP/1.1 204", null, "")]
    [InlineData(0, "GET", "/status?code=304", "HTTP/1.1 304", "Content-Length: 5", "")]
    [InlineData(1, "GET", "/status?code=304", "HTTP/1.1 304", "Content-Length: 5", "")]
    public async Task ResponsesWithoutABody_SendNone_AsTheWsgiSideDoes(int workers, string method, string target, string status, string? header, string body)
    {
        using var connection = hosts[workers].Connect();

        await connection.SendAsync($"{method} {target} HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n");
        var text = (await connection.ReadToCloseAsync(TimeSpan.FromSeconds(10))).Text;

        Assert.StartsWith(status, text, StringComparison.Ordinal);
        Assert.Equal(body, text[(text.IndexOf("\r\n\r\n", StringComparison.Ordinal) + 4)..]);
        if (header is not null)
        {
            Assert.Contains(header, text, StringComparison.OrdinalIgnoreCase);
        }
        else
        {
            Assert.DoesNotContain("Content-Length", text, StringComparison.OrdinalIgnoreCase);
        }
    }

    [Theory]
    [MemberData(nameof(AsgiHost.Modes), MemberType = typeof(AsgiHost))]
    public async Task ALargeResponse_IsPacedByTheClient_TheAppNeverFarAhead(int workers)
    {
        using var connection = hosts[workers].Connect(receiveBuffer: 16 * 1024);

        await connection.SendAsync("GET /big?mb=32 HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n");
        var call = await Eventually.ReturnsAsync(() => Task.FromResult(AsgiHost.Calls(hosts[workers]).SingleOrDefault()), c => c is not null, "the response under way");
        await Eventually.HoldsAsync(() => call!.Unacknowledged >= WorkerProtocol.Window - WorkerProtocol.Fragment, "the app at its window, the client reading nothing");
        var reading = connection.ReadToCloseAsync(TimeSpan.FromSeconds(60));
        long sent = 0;
        while (!reading.IsCompleted)
        {
            sent = Math.Max(sent, call!.Unacknowledged);
            await Task.WhenAny(reading, Task.Delay(5));
        }

        var received = (await reading).Text.Length;

        Assert.InRange(sent, 1, WorkerProtocol.Window + (1 << 20));
        Assert.True(received > 32 << 20, $"received {received}");
    }

    [Theory]
    [MemberData(nameof(AsgiHost.Modes), MemberType = typeof(AsgiHost))]
    public async Task EachRequest_GetsItsOwnCopyOfTheLifespanState(int workers)
    {
        var first = await hosts[workers].Client.GetStringAsync("/state");
        var second = await hosts[workers].Client.GetStringAsync("/state");

        Assert.Equal("""{"greeting": "hello from startup", "touched_before": null}""", first);
        Assert.Equal(first, second);
    }

    [Theory]
    [MemberData(nameof(AsgiHost.Modes), MemberType = typeof(AsgiHost))]
    public async Task EachRequest_ReceivesMessagesOfItsOwn_SoWhatAnAppChangesInOneStaysThere(int workers)
    {
        var first = await hosts[workers].Client.GetStringAsync("/mutates_its_message");
        var second = await hosts[workers].Client.GetStringAsync("/mutates_its_message");

        Assert.Equal("b''", first);
        Assert.Equal("b''", second);
    }

    [Theory]
    [MemberData(nameof(AsgiHost.Modes), MemberType = typeof(AsgiHost))]
    public async Task AReceiveWaitingWhenTheResponseCompletes_HearsHttpDisconnect_AsUnderUvicorn(int workers)
    {
        var key = Guid.NewGuid().ToString("N");

        var body = await hosts[workers].Client.GetByteArrayAsync($"/watches_for_disconnect?kb=4&whole=1&key={key}");

        Assert.Equal(4096, body.Length);
        Assert.Equal("http.disconnect", await AsgiHost.PollAsync(hosts[workers], $"/heard?key={key}"));
    }

    [Theory]
    [MemberData(nameof(AsgiHost.Modes), MemberType = typeof(AsgiHost))]
    public async Task AReceiveWaitingWhileTheBodyWaitsForASlowClient_HearsTheClientGo(int workers)
    {
        var key = Guid.NewGuid().ToString("N");
        using (var connection = hosts[workers].Connect(receiveBuffer: 16 * 1024))
        {
            await connection.SendAsync($"GET /watches_for_disconnect?kb={32 * 1024}&key={key} HTTP/1.1\r\nHost: t\r\n\r\n");

            // The app's send() waits for credit (a window out, none taken) while its watcher waits in receive().
            await Eventually.HoldsAsync(() => AsgiHost.Calls(hosts[workers]).Any(c => c.Unacknowledged >= WorkerProtocol.Window), "the app waiting for the client");
        }

        Assert.Equal("http.disconnect", await AsgiHost.PollAsync(hosts[workers], $"/heard?key={key}"));
    }

    [Theory]
    [MemberData(nameof(AsgiHost.Modes), MemberType = typeof(AsgiHost))]
    public async Task AppLogging_ReachesTheHostsLogging(int workers)
    {
        Assert.Equal("logged", await hosts[workers].Client.GetStringAsync("/log"));

        await hosts[workers].Logs.WaitForAsync(e => e.Category == "asgi_apps" && e.Message == "a warning from the ASGI app");
    }

    [Theory]
    [MemberData(nameof(AsgiHost.Modes), MemberType = typeof(AsgiHost))]
    public async Task ManyHeldRequests_ShareOneLoop_WithoutAThreadEach(int workers)
    {
        var held = Enumerable.Range(0, 200).Select(_ => hosts[workers].Client.GetStringAsync("/held?ms=1000")).ToList();

        var answers = await Task.WhenAll(held);

        Assert.All(answers, a => Assert.Equal("held", a));
    }
}
