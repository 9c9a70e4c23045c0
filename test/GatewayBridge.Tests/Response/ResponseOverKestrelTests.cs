using System.Net;
using System.Text;
using GatewayBridge.Tests.Infrastructure;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Http.Features;
using Microsoft.Extensions.Logging;
using static GatewayBridge.Tests.Infrastructure.Apps;

namespace GatewayBridge.Tests;

/// <summary>Responses over a real socket: framing, lengths, broken responses, disconnects, send-file.</summary>
public class ResponseOverKestrelTests
{
    [Fact]
    public async Task ClientDisconnectMidStream_StopsTheAppAndDisposesTheIterableOnce()
    {
        var produced = 0;
        IEnumerator<byte[]> Endless()
        {
            while (true)
            {
                Interlocked.Increment(ref produced);
                Thread.Sleep(5);
                yield return new byte[1024];
            }
        }

        var body = new TrackedBody(Endless);
        await using var host = await TestApp.StartAsync(
            (environ, startResponse) =>
            {
                startResponse("200 OK", [("Content-Type", "text/plain")]);
                return body;
            },
            kestrel: true,
            validate: false);

        using (var connection = host.Connect())
        {
            await connection.SendAsync("GET /stream HTTP/1.1\r\nHost: t\r\n\r\n");
            await connection.ReadUntilAsync("\r\n\r\n");
        }

        await body.Closed.Task.WaitAsync(TimeSpan.FromSeconds(10));
        var producedAtClose = produced;

        // The request's end is logged after the close: once it is there, a second close or another step would be too.
        var aborted = Assert.Single(await host.Logs.WaitForAsync(e => e.EventId.Name == "RequestAborted"));
        Assert.Equal((4, LogLevel.Debug), (aborted.EventId.Id, aborted.Level));
        Assert.Contains("/stream", aborted.Message, StringComparison.Ordinal);
        Assert.DoesNotContain(host.Logs.Entries, e => e.EventId.Name == "RequestTimedOut");
        Assert.Equal(1, body.Disposed);
        Assert.Equal(1, body.EnumeratorDisposed);
        Assert.Equal(producedAtClose, produced);
    }

    [Fact]
    public async Task ExceptionMidStream_TruncatesTheResponseAndClosesTheConnection()
    {
        static IEnumerable<byte[]> App(IDictionary<string, object?> environ, StartResponse startResponse)
        {
            startResponse("200 OK", [("Content-Type", "text/plain")]);
            yield return Bytes("part1");
            throw new InvalidOperationException("failed mid-stream");
        }

        await using var host = await TestApp.StartAsync(App, kestrel: true);

        var text = await GetBrokenResponseAsync(host, "/boom");

        Assert.Contains("Transfer-Encoding: chunked", text, StringComparison.Ordinal);
        Assert.Contains("5\r\npart1\r\n", text, StringComparison.Ordinal);
        var failure = Assert.Single(await host.Logs.WaitForAsync(e => e.EventId.Name == "GatewayAppFailed"));
        Assert.Equal("failed mid-stream", failure.Exception?.Message);
        Assert.Contains("GET /boom", failure.Message, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public async Task BytesWrittenBeforeAFailure_GoOut_AndTheResponseIsBroken(bool appCancels)
    {
        // Found by the response model: write() made the headers due and its bytes were held, then lost with a 500.
        // An OperationCanceledException the app raises on its own (the request was not aborted) is a failure like any other.
        await using var host = await TestApp.StartAsync(
            (environ, startResponse) =>
            {
                var write = startResponse("200 OK", [("Content-Type", "text/plain")]);
                write(Bytes("written"));
                throw appCancels ? new OperationCanceledException("the app gave up") : new InvalidOperationException("failed after write()");
            },
            kestrel: true,
            validate: false);

        var text = await GetBrokenResponseAsync(host, "/");

        Assert.StartsWith("HTTP/1.1 200 OK", text, StringComparison.Ordinal);
        Assert.Contains("7\r\nwritten\r\n", text, StringComparison.Ordinal);
    }

    // A response cut by a failure: the connection closes, and no chunked terminator lets it pass for complete.
    private static async Task<string> GetBrokenResponseAsync(TestHost host, string path)
    {
        using var connection = host.Connect();
        await connection.SendAsync($"GET {path} HTTP/1.1\r\nHost: t\r\n\r\n");
        var (text, closed) = await connection.ReadToCloseAsync();

        Assert.True(closed, "the connection must close, not wait for more");
        Assert.DoesNotContain("0\r\n\r\n", text, StringComparison.Ordinal);
        return text;
    }

    [Fact]
    public async Task HeadersDueOnAHead_ReachTheClient_BeforeTheAppFinishes()
    {
        // Found by the response model on TestServer: a HEAD's headers were started but never flushed.
        using var release = new SemaphoreSlim(0);
        await using var host = await TestApp.StartAsync(
            (environ, startResponse) =>
            {
                startResponse("200 OK", [("Content-Type", "text/plain")]);
                return Stream();

                IEnumerable<byte[]> Stream()
                {
                    yield return Bytes("first");
                    release.Wait(TimeSpan.FromSeconds(10));
                }
            },
            kestrel: true);
        using var connection = host.Connect();

        await connection.SendAsync("HEAD / HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n");
        var head = await connection.ReadUntilAsync("\r\n\r\n", timeout: TimeSpan.FromSeconds(5));
        release.Release();

        Assert.StartsWith("HTTP/1.1 200 OK", head, StringComparison.Ordinal);
    }

    [Fact]
    public async Task BodyLongerThanContentLength_IsCutAtTheDeclaredLength_AndTheConnectionStaysUsable()
    {
        await using var host = await TestApp.StartAsync(
            (environ, startResponse) =>
            {
                startResponse("200 OK", [("Content-Type", "text/plain"), ("Content-Length", "3")]);
                return Stream();

                static IEnumerable<byte[]> Stream()
                {
                    yield return Bytes("he");
                    yield return Bytes("llo");
                }
            },
            kestrel: true);
        using var connection = host.Connect();

        await connection.SendAsync("GET /a HTTP/1.1\r\nHost: t\r\n\r\nGET /b HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n");
        var (text, closed) = await connection.ReadToCloseAsync();

        Assert.True(closed);
        Assert.Equal(2, text.Split("HTTP/1.1 200 OK").Length - 1);
        Assert.Equal(2, text.Split("\r\n\r\nhel").Length - 1);
        Assert.DoesNotContain("hello", text, StringComparison.Ordinal);
        Assert.NotEmpty(await host.Logs.WaitForAsync(e => e.EventId.Name == "ContentLengthExceeded"));
    }

    [Fact]
    public async Task BodyShorterThanContentLength_ClosesTheConnection_NeverHangs()
    {
        await using var host = await TestApp.StartAsync(
            (environ, startResponse) =>
            {
                startResponse("200 OK", [("Content-Type", "text/plain"), ("Content-Length", "10")]);
                return Once();

                static IEnumerable<byte[]> Once()
                {
                    yield return Bytes("short");
                }
            },
            kestrel: true);
        using var connection = host.Connect();

        await connection.SendAsync("GET / HTTP/1.1\r\nHost: t\r\n\r\n");
        var (text, closed) = await connection.ReadToCloseAsync(TimeSpan.FromSeconds(10));

        Assert.True(closed, "the client must not be left waiting for the missing bytes");
        Assert.Contains("Content-Length: 10", text, StringComparison.Ordinal);
        Assert.EndsWith("\r\n\r\nshort", text, StringComparison.Ordinal);
        Assert.NotEmpty(await host.Logs.WaitForAsync(e => e.EventId.Name == "ContentLengthShort"));
    }

    [Fact]
    public async Task GeneratorBody_UsesChunkedEncoding()
    {
        static IEnumerable<byte[]> App(IDictionary<string, object?> environ, StartResponse startResponse)
        {
            startResponse("200 OK", [("Content-Type", "text/plain")]);
            yield return Bytes("ab");
            yield return Bytes("cde");
        }

        await using var host = await TestApp.StartAsync(App, kestrel: true);
        using var connection = host.Connect();

        await connection.SendAsync("GET / HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n");
        var (text, _) = await connection.ReadToCloseAsync();

        Assert.Contains("Transfer-Encoding: chunked", text, StringComparison.Ordinal);
        Assert.EndsWith("2\r\nab\r\n3\r\ncde\r\n0\r\n\r\n", text, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("204 No Content")]
    [InlineData("205 Reset Content")]
    [InlineData("304 Not Modified")]
    public async Task NoBodyStatuses_SendNeitherBodyNorFraming(string status)
    {
        // The server's behaviour, whatever the app returns: not validated (wsgiref's checker knows only 204 and 304).
        await using var host = await TestApp.StartAsync(
            (environ, startResponse) =>
            {
                startResponse(status, []);
                return [Bytes("ignored")];
            },
            kestrel: true,
            validate: false);
        using var connection = host.Connect();

        await connection.SendAsync("GET / HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n");
        var (text, _) = await connection.ReadToCloseAsync();

        Assert.StartsWith("HTTP/1.1 " + status, text, StringComparison.Ordinal);
        Assert.EndsWith("\r\n\r\n", text, StringComparison.Ordinal);
        Assert.DoesNotContain("ignored", text, StringComparison.Ordinal);
        Assert.DoesNotContain("Transfer-Encoding", text, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("204 No Content", "0", null)]
    [InlineData("204 No Content", "7", null)]
    [InlineData("205 Reset Content", "7", "Content-Length: 0")]
    [InlineData("205 Reset Content", "0", "Content-Length: 0")]
    [InlineData("304 Not Modified", "7", "Content-Length: 7")]
    public async Task AContentLengthOnANoBodyStatus_BecomesWhatHttpAllows_NotA500(string status, string length, string? sent)
    {
        // Django's CommonMiddleware gives every response a Content-Length, a 204 included; Kestrel refuses one there.
        await using var host = await TestApp.StartAsync(
            (environ, startResponse) =>
            {
                startResponse(status, [("Content-Length", length)]);
                return [];
            },
            kestrel: true,
            validate: false);
        using var connection = host.Connect();

        await connection.SendAsync("GET / HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n");
        var (text, _) = await connection.ReadToCloseAsync();

        Assert.StartsWith("HTTP/1.1 " + status, text, StringComparison.Ordinal);
        var header = RawResponse.Parse(text).Header("Content-Length");
        Assert.Equal(sent, header is null ? null : "Content-Length: " + header);
    }

    [Fact]
    public async Task AnEmptyHeaderValue_IsSent_InItsPlaceAmongRepeats()
    {
        // Found by the response model: IHeaderDictionary.Append drops an empty value, so "X-Custom: " was lost.
        await using var host = await TestApp.StartAsync(
            (environ, startResponse) =>
            {
                startResponse("200 OK", [("Content-Type", "text/plain"), ("X-Empty", ""), ("X-Custom", ""), ("X-Custom", "two words")]);
                return [];
            },
            kestrel: true);
        using var connection = host.Connect();

        await connection.SendAsync("GET / HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n");
        var response = RawResponse.Parse((await connection.ReadToCloseAsync()).Text);

        Assert.Equal([("X-Empty", "")], response.Headers.Where(h => h.Name == "X-Empty"));
        Assert.Equal([("X-Custom", ""), ("X-Custom", "two words")], response.Headers.Where(h => h.Name == "X-Custom"));
    }

    [Fact]
    public async Task FileWrapper_OverAFile_GoesThroughSendFile()
    {
        var path = Path.GetTempFileName();
        var content = new byte[100_000];
        new Random(3).NextBytes(content);
        await File.WriteAllBytesAsync(path, content);
        var sendFileCalls = 0;
        try
        {
            await using var host = await TestApp.StartAsync(
                app =>
                {
                    app.Use((context, next) =>
                    {
                        var inner = context.Features.GetRequiredFeature<IHttpResponseBodyFeature>();
                        context.Features.Set<IHttpResponseBodyFeature>(new RecordingBodyFeature(inner, () => sendFileCalls++));
                        return next(context);
                    });
                    app.UseGatewayApp((environ, startResponse) =>
                    {
                        var wrap = (Func<Stream, int, IEnumerable<byte[]>>)environ[Environ.FileWrapper]!;
                        startResponse("200 OK", [("Content-Type", "application/octet-stream")]);
                        return wrap(File.OpenRead(path), 8192);
                    });
                },
                kestrel: true);

            var response = await host.Client.GetAsync("/file");
            Assert.Equal(content, await response.Content.ReadAsByteArrayAsync());
            Assert.Equal(content.Length, response.Content.Headers.ContentLength);
            Assert.Equal(1, sendFileCalls);
        }
        finally
        {
            File.Delete(path);
        }
    }
}
