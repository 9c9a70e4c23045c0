using System.Net;

namespace GatewayBridge.Python.Tests.Asgi;

/// <summary>
/// An ASGI app that breaks a rule of the spec gets a clear 500 (or a cut connection once its response started), one
/// log event naming the rule and the app, and the next request is served as usual.
/// </summary>
public class AsgiRuleTests(AsgiHosts hosts) : IClassFixture<AsgiHosts>
{
    public static TheoryData<int, string, string> BeforeTheResponse => new()
    {
        { 0, "/body_before_start", "http.response.body was sent before http.response.start" },
        { 1, "/body_before_start", "http.response.body was sent before http.response.start" },
        { 0, "/start_twice", "http.response.start was sent twice" },
        { 1, "/start_twice", "http.response.start was sent twice" },
        { 0, "/no_response", "the app returned without sending http.response.start" },
        { 1, "/no_response", "the app returned without sending http.response.start" },
        { 0, "/str_body", "'body' must be bytes, not str" },
        { 1, "/str_body", "'body' must be bytes, not str" },
        { 0, "/str_header", "a header must be a pair of bytes" },
        { 1, "/str_header", "a header must be a pair of bytes" },
        { 0, "/raise_before_start", "the app failed before it answered" },
        { 1, "/raise_before_start", "the app failed before it answered" },
        { 0, "/bad_header", "control character" },
        { 1, "/bad_header", "control character" },
    };

    [Theory]
    [MemberData(nameof(BeforeTheResponse))]
    public async Task ARuleBrokenBeforeTheResponse_Is500_OneEventNamingTheRuleAndTheApp_AndTheNextRequestIsServed(int workers, string path, string rule)
    {
        var host = hosts[workers];
        var before = host.Logs.Entries.Count;

        using var response = await host.Client.GetAsync(path);

        Assert.Equal(HttpStatusCode.InternalServerError, response.StatusCode);
        await host.Logs.WaitForAsync(e => e.EventId.Name == "AsgiAppFailed" && e.Message.Contains(path, StringComparison.Ordinal));

        // The next request crosses the same connection to the same loop: what the failed one still had to say (a
        // second event, say) came before it.
        Assert.Equal("Hello, ASGI!", await host.Client.GetStringAsync("/hello"));
        var failure = Assert.Single(host.Logs.Entries.Skip(before), e => e.Level >= Microsoft.Extensions.Logging.LogLevel.Error);
        Assert.Equal("AsgiAppFailed", failure.EventId.Name);
        Assert.Contains("asgi_apps:router", failure.Message, StringComparison.Ordinal);
        Assert.Contains(rule, failure.Exception!.Message, StringComparison.Ordinal);
        Assert.Equal("Hello, ASGI!", await host.Client.GetStringAsync("/hello"));
    }

    [Theory]
    [MemberData(nameof(AsgiHost.Modes), MemberType = typeof(AsgiHost))]
    public async Task AFailureAfterTheLastByte_IsLoggedOnce_AndTheResponseIsWhole(int workers)
    {
        var host = hosts[workers];

        var body = await host.Client.GetByteArrayAsync("/raise_after_body?kb=512");

        Assert.Equal(512 * 1024, body.Length);
        await host.Logs.WaitForAsync(e => e.EventId.Name == "AsgiAppFailedAfterResponse" && e.Message.Contains("/raise_after_body", StringComparison.Ordinal));
        await Eventually.HoldsAsync(() => AsgiHost.Calls(host).Count == 0, "the call over");
        Assert.Equal("Hello, ASGI!", await host.Client.GetStringAsync("/hello"));
        var failure = Assert.Single(host.Logs.Entries, e => e.Message.Contains("/raise_after_body", StringComparison.Ordinal) && e.Level >= Microsoft.Extensions.Logging.LogLevel.Error);
        Assert.Contains("failed after its last byte", failure.Exception!.Message, StringComparison.Ordinal);
    }

    [Theory]
    [MemberData(nameof(AsgiHost.Modes), MemberType = typeof(AsgiHost))]
    public async Task ATaskTheAppLeftRunning_HearsHttpDisconnect_AndCannotSend_AndTheServerIsUntouched(int workers)
    {
        var host = hosts[workers];
        var key = Guid.NewGuid().ToString("N");

        using var response = await host.Client.PostAsync($"/leaves_a_reader?key={key}", new ByteArrayContent(new byte[100_000]));
        var pid = await response.Content.ReadAsStringAsync();

        Assert.Equal(
            "http.disconnect; send: 'http.response.body' was sent after the app returned (by a task it left running)",
            await AsgiHost.PollAsync(host, $"/left_behind?key={key}"));
        Assert.Equal(pid, await host.Client.GetStringAsync("/pid"));
    }

    [Theory]
    [MemberData(nameof(AsgiHost.Modes), MemberType = typeof(AsgiHost))]
    public async Task AFailureAfterTheResponseStarted_CutsTheConnection_SoThePartialBodyCannotPassForWhole(int workers)
    {
        var host = hosts[workers];
        using var connection = host.Connect();

        await connection.SendAsync("GET /raise_after_start HTTP/1.1\r\nHost: t\r\n\r\n");
        var (text, closed) = await connection.ReadToCloseAsync(TimeSpan.FromSeconds(10));

        // Whatever of the 200 reached the client before the cut, it never ends as a complete chunked body.
        Assert.True(closed);
        Assert.DoesNotContain("\r\n0\r\n\r\n", text, StringComparison.Ordinal);
        var failure = await host.Logs.WaitForAsync(e => e.EventId.Name == "AsgiAppFailed" && e.Message.Contains("/raise_after_start", StringComparison.Ordinal));
        Assert.Contains("the connection was cut", failure[0].Message, StringComparison.Ordinal);
        Assert.Equal("Hello, ASGI!", await host.Client.GetStringAsync("/hello"));
    }

    [Theory]
    [MemberData(nameof(AsgiHost.Modes), MemberType = typeof(AsgiHost))]
    public async Task AnAppThatReturnsBeforeItsBodyEnded_CutsTheConnection(int workers)
    {
        var host = hosts[workers];
        using var connection = host.Connect();

        await connection.SendAsync("GET /unfinished HTTP/1.1\r\nHost: t\r\n\r\n");
        var (text, closed) = await connection.ReadToCloseAsync(TimeSpan.FromSeconds(10));

        Assert.True(closed);
        Assert.DoesNotContain("\r\n0\r\n\r\n", text, StringComparison.Ordinal);
        var failure = await host.Logs.WaitForAsync(e => e.EventId.Name == "AsgiAppFailed" && e.Message.Contains("/unfinished", StringComparison.Ordinal));
        Assert.Contains("more_body true", failure[0].Exception!.Message, StringComparison.Ordinal);
    }
}
