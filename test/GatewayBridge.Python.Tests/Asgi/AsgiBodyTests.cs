using System.Net;
using static GatewayBridge.Python.Tests.Workers.WorkerHost;

namespace GatewayBridge.Python.Tests.Asgi;

/// <summary>The request body and the client's end, as an ASGI app sees them: paced, bounded, and heard at once.</summary>
public class AsgiBodyTests(AsgiHosts hosts) : IClassFixture<AsgiHosts>
{
    [Theory]
    [MemberData(nameof(AsgiHost.Modes), MemberType = typeof(AsgiHost))]
    public async Task ALongPoll_HearsHttpDisconnect_AsSoonAsTheClientGoes(int workers)
    {
        var marker = TempPath("disconnect");
        using (var connection = hosts[workers].Connect())
        {
            await connection.SendAsync($"GET /long_poll?path={marker} HTTP/1.1\r\nHost: t\r\n\r\n");
            await Eventually.HoldsAsync(() => AsgiHost.Calls(hosts[workers]).Count == 1, "the poll at the app");
        }

        await Eventually.HoldsAsync(() => File.Exists(marker), "the app heard the client go", within: TimeSpan.FromSeconds(5));
        await Eventually.HoldsAsync(() => AsgiHost.Calls(hosts[workers]).Count == 0, "the call over");
        File.Delete(marker);
    }

    [Theory]
    [MemberData(nameof(AsgiHost.Modes), MemberType = typeof(AsgiHost))]
    public async Task ABodyDeclaredOverKestrelsLimit_Is413_WithoutAByteRead_OrTheApp(int workers)
    {
        using var connection = hosts[workers].Connect();

        await connection.SendAsync("POST /echo HTTP/1.1\r\nHost: t\r\nContent-Length: 1073741824\r\n\r\n");
        var head = await connection.ReadUntilAsync("\r\n\r\n", timeout: TimeSpan.FromSeconds(10));

        Assert.StartsWith("HTTP/1.1 413", head, StringComparison.Ordinal);
        await hosts[workers].Logs.WaitForAsync(e => e.EventId.Name == "AsgiBodyTooLarge");
    }

    [Theory]
    [MemberData(nameof(AsgiHost.Modes), MemberType = typeof(AsgiHost))]
    public async Task AChunkedBodyPastKestrelsLimit_Is413_AndTheAppHearsTheClientGo(int workers)
    {
        using var connection = hosts[workers].Connect();
        await connection.SendAsync("POST /echo HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked\r\n\r\n");
        var chunk = "100000\r\n" + new string('x', 0x100000) + "\r\n";

        string? head = null;
        for (var i = 0; i < 40 && head is null; i++)
        {
            try
            {
                await connection.SendAsync(chunk);
            }
            catch (IOException)
            {
                break;
            }
        }

        head = (await connection.ReadToCloseAsync(TimeSpan.FromSeconds(20))).Text;
        Assert.StartsWith("HTTP/1.1 413", head, StringComparison.Ordinal);
    }

    [Theory]
    [MemberData(nameof(AsgiHost.Modes), MemberType = typeof(AsgiHost))]
    public async Task AnAppThatNeverReadsABigBody_Answers_WhileTheHostHoldsAWindowOfIt(int workers)
    {
        var host = hosts[workers];
        using var connection = host.Connect();
        await connection.SendAsync("POST /never_reads HTTP/1.1\r\nHost: t\r\nContent-Length: 20000000\r\nConnection: close\r\n\r\n");
        try
        {
            await connection.SendAsync(new byte[4 << 20]);
        }
        catch (IOException)
        {
            // The answer came, and the connection closed, before the client finished: the server need not read it.
        }

        var text = (await connection.ReadToCloseAsync(TimeSpan.FromSeconds(20))).Text;

        Assert.StartsWith("HTTP/1.1 200", text, StringComparison.Ordinal);
        Assert.EndsWith("did not read it", text, StringComparison.Ordinal);
    }

    [Theory]
    [MemberData(nameof(AsgiHost.Modes), MemberType = typeof(AsgiHost))]
    public async Task AnUpload_IsPacedByTheApp_TheHostNeverFarAhead(int workers)
    {
        // The app reads a 64 KB message every 20 ms: a 4 MB upload takes over a second, and the host sends it no more
        // than a window ahead of what the app took.
        var host = hosts[workers];
        var body = new byte[4 << 20];
        var upload = host.Client.PostAsync("/slow_echo", new ByteArrayContent(body));
        long most = 0;
        while (!upload.IsCompleted)
        {
            most = Math.Max(most, AsgiHost.Calls(host).Select(c => c.Unread).DefaultIfEmpty().Max());
            await Task.Delay(10);
        }

        using var response = await upload;
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        Assert.Equal((4 << 20).ToString(System.Globalization.CultureInfo.InvariantCulture), await response.Content.ReadAsStringAsync());
        Assert.InRange(most, 1, WorkerProtocol.Window + (64 * 1024));
    }
}
