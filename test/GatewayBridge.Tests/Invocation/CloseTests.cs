using System.Net;
using System.Text;
using GatewayBridge.Tests.Infrastructure;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.Logging;
using static GatewayBridge.Tests.Infrastructure.Apps;

namespace GatewayBridge.Tests;

/// <summary>PEP 3333's close(): the iterable and its enumerator disposed exactly once, on every path.</summary>
public class CloseTests
{
    // The exactly-once tests count the app's own disposals with no validator in between: the validator's wrapper
    // throws on a second close, which the bridge only logs, so it would hide the very thing checked here.
    [Fact]
    public async Task Iterable_IsDisposedExactlyOnce_OnSuccess()
    {
        var body = new TrackedBody(() => new List<byte[]> { Bytes("a"), Bytes("b") }.GetEnumerator());
        await using var host = await TestApp.StartAsync(
            (environ, startResponse) =>
            {
                startResponse("200 OK", [("Content-Type", "text/plain")]);
                return body;
            },
            validate: false);

        Assert.Equal("ab", await host.Client.GetStringAsync("/"));
        Assert.Equal(1, body.Disposed);
        Assert.Equal(1, body.EnumeratorDisposed);
    }

    [Fact]
    public async Task Iterable_IsDisposedExactlyOnce_OnException()
    {
        static IEnumerator<byte[]> Failing()
        {
            yield return [];
            throw new InvalidOperationException("mid-body");
        }

        var body = new TrackedBody(Failing);
        await using var host = await TestApp.StartAsync(
            (environ, startResponse) =>
            {
                startResponse("200 OK", [("Content-Type", "text/plain")]);
                return body;
            },
            kestrel: true,
            validate: false);

        var response = await host.Client.GetAsync("/");
        Assert.Equal(HttpStatusCode.InternalServerError, response.StatusCode);
        Assert.Equal(1, body.Disposed);
        Assert.Equal(1, body.EnumeratorDisposed);
    }

    [Fact]
    public async Task ABodyThatIsItsOwnEnumerator_IsDisposedOnce()
    {
        // As an iterator method's object is, but counting every Dispose: a compiler-made iterator runs its finally
        // once however often it is disposed, so it could not show a second call.
        var body = new SelfEnumeratingBody([Bytes("x"), Bytes("y")]);
        await using var host = await TestApp.StartAsync(
            (environ, startResponse) =>
            {
                startResponse("200 OK", [("Content-Type", "text/plain")]);
                return body;
            },
            validate: false);

        Assert.Equal("xy", await host.Client.GetStringAsync("/"));
        Assert.Equal(1, body.Disposed);
    }

    [Fact]
    public async Task AFailingClose_IsLoggedAsAnError_AndTheResponseStands()
    {
        var body = new SelfEnumeratingBody([Bytes("body")], failOnDispose: true);
        await using var host = await TestApp.StartAsync(
            (environ, startResponse) =>
            {
                startResponse("200 OK", [("Content-Type", "text/plain")]);
                return body;
            },
            validate: false);

        Assert.Equal("body", await host.Client.GetStringAsync("/closing"));
        var failure = Assert.Single(host.Logs.Entries, e => e.EventId.Name == "GatewayAppCloseFailed");
        Assert.Contains("/closing", failure.Message, StringComparison.Ordinal);
        Assert.Equal(LogLevel.Error, failure.Level);
        Assert.Equal(5, failure.EventId.Id);
        Assert.IsType<InvalidOperationException>(failure.Exception);
    }
}
