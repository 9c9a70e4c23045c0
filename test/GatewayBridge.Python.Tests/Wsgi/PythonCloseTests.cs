using GatewayBridge.Python.Tests.Infrastructure;

namespace GatewayBridge.Python.Tests.Wsgi;

/// <summary>
/// close() exactly once, on success, exception and client disconnect. The app counts its own close(); no validator
/// wraps it (wsgiref.validate's wrapper would be the one closed). One Python thread: a request after another runs
/// only once the first call is over, so a second close() would already show.
/// </summary>
public class PythonCloseTests
{
    private static Task<TestHost> StartAsync(bool kestrel = false) =>
        PythonTestHost.StartAsync("wsgi_apps:router", kestrel, validate: false, python: o => o.Threads = 1);

    private static async Task<int> CloseCountAsync(TestHost host, string name) =>
        int.Parse(await host.Client.GetStringAsync($"/close_count?name={name}"), System.Globalization.CultureInfo.InvariantCulture);

    [Theory]
    [InlineData("iterator")]
    [InlineData("list")]
    public async Task AfterASuccessfulResponse_CloseIsCalledOnce(string kind)
    {
        await using var host = await StartAsync();
        var name = Guid.NewGuid().ToString("N");

        Assert.Equal("ab", await host.Client.GetStringAsync($"/counted?name={name}&kind={kind}"));
        Assert.Equal(1, await CloseCountAsync(host, name));
    }

    [Fact]
    public async Task AfterTheAppRaisesMidBody_CloseIsCalledOnce()
    {
        await using var host = await StartAsync(kestrel: true);
        var name = Guid.NewGuid().ToString("N");
        using var connection = host.Connect();
        await connection.SendAsync($"GET /counted?name={name}&kind=fail HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n");
        var (text, _) = await connection.ReadToCloseAsync();

        Assert.False(RawResponse.Parse(text).Complete);
        Assert.Equal(1, await CloseCountAsync(host, name));
    }

    [Fact]
    public async Task WhenTheClientLeavesMidStream_TheIterableIsClosedOnce()
    {
        await using var host = await StartAsync(kestrel: true);
        var name = Guid.NewGuid().ToString("N");
        using (var connection = host.Connect())
        {
            await connection.SendAsync($"GET /counted?name={name}&kind=stream HTTP/1.1\r\nHost: t\r\n\r\n");
            await connection.ReadUntilAsync("xxxxxxxxxx");
        }

        // The stream is endless: only the client leaving ends it, so a count of 1 is that close().
        var count = await Eventually.ReturnsAsync(() => CloseCountAsync(host, name), c => c > 0, "the stream's close()");

        Assert.Equal(1, count);
        Assert.Equal(1, await CloseCountAsync(host, name));
    }

    [Fact]
    public async Task AFailingClose_IsLogged_AndTheResponseStands()
    {
        await using var host = await StartAsync();
        Assert.Equal("body", await host.Client.GetStringAsync("/close_fails"));

        var failure = Assert.Single(host.Logs.Entries, e => e.EventId.Name == "GatewayAppCloseFailed");
        var error = Assert.IsType<PythonAppException>(failure.Exception);
        Assert.Contains("close went wrong", error.PythonTraceback, StringComparison.Ordinal);
    }
}
