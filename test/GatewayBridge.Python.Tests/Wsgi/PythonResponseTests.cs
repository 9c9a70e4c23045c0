using System.Net;
using GatewayBridge.Python.Tests.Infrastructure;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http.Features;
using Microsoft.Extensions.Logging;

namespace GatewayBridge.Python.Tests.Wsgi;

/// <summary>start_response, exc_info, write(), generators, files and failures of Python apps, as a client sees them.</summary>
public class PythonResponseTests
{
    private static async Task<RawResponse> GetRawAsync(TestHost host, string target, string method = "GET")
    {
        using var connection = host.Connect();
        await connection.SendAsync($"{method} {target} HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n");
        var (text, closed) = await connection.ReadToCloseAsync();
        Assert.True(closed);
        return RawResponse.Parse(text);
    }

    private static IEnumerable<LogEntry> Failures(TestHost host) =>
        host.Logs.Entries.Where(e => e.EventId.Name == "GatewayAppFailed");

    [Fact]
    public async Task AList_GetsAContentLength()
    {
        await using var host = await PythonTestHost.StartAsync("wsgi_apps:hello", kestrel: true, validate: false);
        var response = await GetRawAsync(host, "/x");

        Assert.Equal("Hello, /x!", response.Body);
        Assert.Equal("10", response.Header("Content-Length"));
        Assert.False(response.Chunked);
    }

    [Fact]
    public async Task AGenerator_IsChunked_AndEmptyChunksAreSkipped()
    {
        await using var host = await PythonTestHost.StartAsync("wsgi_apps:generator", kestrel: true);
        var response = await GetRawAsync(host, "/");
        Assert.True(response.Chunked);
        Assert.True(response.Complete);
        Assert.Equal("chunk 0\nchunk 1\nchunk 2\n", response.Body);

        await using var empties = await PythonTestHost.StartAsync("wsgi_apps:empty_chunks");
        Assert.Equal("ab", await empties.Client.GetStringAsync("/"));
    }

    [Fact]
    public async Task AnExceptionBeforeTheBody_IsA500_AndOneLogEventWithThePythonTraceback()
    {
        await using var host = await PythonTestHost.StartAsync("wsgi_apps:fails_before_body", kestrel: true);
        var response = await host.Client.GetAsync("/boom");

        Assert.Equal(HttpStatusCode.InternalServerError, response.StatusCode);
        var failure = Assert.Single(Failures(host));
        Assert.Equal(LogLevel.Error, failure.Level);
        var error = Assert.IsType<PythonAppException>(failure.Exception);
        Assert.Equal("KeyError", error.PythonType);
        Assert.Contains("missing-thing", error.Message, StringComparison.Ordinal);
        Assert.Contains("in fails_before_body", error.PythonTraceback, StringComparison.Ordinal);
        Assert.Contains("Traceback (most recent call last)", error.ToString(), StringComparison.Ordinal);
    }

    [Fact]
    public async Task AnExceptionMidBody_CutsTheResponse_AfterTheBytesAlreadySent()
    {
        await using var host = await PythonTestHost.StartAsync("wsgi_apps:fails_mid_body", kestrel: true);
        var response = await GetRawAsync(host, "/");

        Assert.Equal("HTTP/1.1 200 OK", response.StatusLine);
        Assert.Equal("partial", response.Body);
        Assert.False(response.Complete);
        var error = Assert.IsType<PythonAppException>(Assert.Single(Failures(host)).Exception);
        Assert.Contains("broke mid-stream", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task ExcInfo_BeforeTheHeadersAreSent_ReplacesStatusAndHeaders()
    {
        await using var host = await PythonTestHost.StartAsync("wsgi_apps:exc_info_before_headers");
        var response = await host.Client.GetAsync("/");

        Assert.Equal(HttpStatusCode.InternalServerError, response.StatusCode);
        Assert.Equal("1", response.Headers.GetValues("X-Error").Single());
        Assert.Equal("error page", await response.Content.ReadAsStringAsync());
        Assert.Empty(Failures(host));
    }

    [Fact]
    public async Task ExcInfo_AfterTheHeadersAreSent_ReraisesAndCutsTheResponse()
    {
        await using var host = await PythonTestHost.StartAsync("wsgi_apps:exc_info_after_headers", kestrel: true);
        var response = await GetRawAsync(host, "/");

        Assert.Equal("first", response.Body);
        Assert.False(response.Complete);
        var error = Assert.IsType<PythonAppException>(Assert.Single(Failures(host)).Exception);
        Assert.Equal("ValueError", error.PythonType);
        Assert.Contains("too late", error.Message, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("wsgi_apps:second_start_response", "AssertionError", "already called")]
    [InlineData("wsgi_apps:never_starts", "AssertionError", "without calling start_response")]
    [InlineData("wsgi_apps:str_chunk", "TypeError", "must be bytes")]
    public async Task BrokenApps_GetA500NamingTheMistake(string app, string type, string message)
    {
        // The server's own checks, not wsgiref.validate's.
        await using var host = await PythonTestHost.StartAsync(app, kestrel: true, validate: false);
        Assert.Equal(HttpStatusCode.InternalServerError, (await host.Client.GetAsync("/")).StatusCode);

        var error = Assert.IsType<PythonAppException>(Assert.Single(Failures(host)).Exception);
        Assert.Equal(type, error.PythonType);
        Assert.Contains(message, error.Message, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("wsgi_apps:bad_header", "X-Evil")]
    [InlineData("wsgi_apps:hop_by_hop", "hop-by-hop")]
    public async Task HeadersThatBreakTheResponseRules_AreRefused_WithNoBytesOnTheWire(string app, string message)
    {
        await using var host = await PythonTestHost.StartAsync(app, kestrel: true, validate: false);
        var response = await GetRawAsync(host, "/");

        Assert.Equal("HTTP/1.1 500 Internal Server Error", response.StatusLine);
        Assert.DoesNotContain(response.Headers, h => h.Name is "X-Evil" or "Set-Cookie");
        var error = Assert.IsType<ArgumentException>(Assert.Single(Failures(host)).Exception);
        Assert.Contains(message, error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task ANulInAHeaderValue_IsRefusedByStartResponse_NeverSplitIntoTwoHeaders()
    {
        await using var host = await PythonTestHost.StartAsync("wsgi_apps:nul_header", kestrel: true, validate: false);
        var response = await GetRawAsync(host, "/");

        Assert.Equal("HTTP/1.1 400 Bad Request", response.StatusLine);
        Assert.DoesNotContain(response.Headers, h => h.Name.Equals("Set-Cookie", StringComparison.OrdinalIgnoreCase));
        Assert.Contains("NUL", response.Body, StringComparison.Ordinal);
    }

    [Fact]
    public async Task AWriteKeptFromAnEndedRequest_IsRefused_NeverWritesIntoAnother()
    {
        await using var host = await PythonTestHost.StartAsync("wsgi_apps:router", validate: false, python: o => o.Threads = 1);
        var name = Guid.NewGuid().ToString("N");
        Assert.Equal("kept", await host.Client.GetStringAsync($"/keep_write?name={name}"));

        var body = await host.Client.GetStringAsync($"/use_kept_write?name={name}");
        Assert.StartsWith("refused: write() was called after the response ended", body, StringComparison.Ordinal);
    }

    [Fact]
    public async Task WsgirefValidate_CatchesWhatTheAppBreaks()
    {
        await using var host = await PythonTestHost.StartAsync("wsgi_apps:bad_header", kestrel: true, validate: true);
        Assert.Equal(HttpStatusCode.InternalServerError, (await host.Client.GetAsync("/")).StatusCode);
        var error = Assert.IsType<PythonAppException>(Assert.Single(Failures(host)).Exception);
        Assert.Equal("AssertionError", error.PythonType);
        Assert.Contains("validate.py", error.PythonTraceback, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Write_SendsItsBytesBeforeTheReturnedBody()
    {
        await using var host = await PythonTestHost.StartAsync("wsgi_apps:write_then_return");
        Assert.Equal("written;returned", await host.Client.GetStringAsync("/"));
    }

    [Fact]
    public async Task Write_ReachesTheClientBeforeItReturns()
    {
        // The app writes, then waits until the test has read those bytes and releases it: had write() buffered
        // until the app returns, the read below could never finish.
        await using var host = await PythonTestHost.StartAsync("wsgi_apps:router", kestrel: true, python: o => o.Threads = 2);
        var name = Guid.NewGuid().ToString("N");
        using var connection = host.Connect();
        await connection.SendAsync($"GET /write_then_wait?name={name} HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n");
        var early = await connection.ReadUntilAsync("early;", timeout: TimeSpan.FromSeconds(8));
        Assert.Contains("early;", early, StringComparison.Ordinal);

        Assert.Equal("released", await host.Client.GetStringAsync($"/release?name={name}"));
        var (rest, _) = await connection.ReadToCloseAsync();
        Assert.Equal("early;late", RawResponse.Parse(early + rest).Body);
    }

    [Fact]
    public async Task ContentLength_TooShortClosesTheConnection_TooLongIsCut()
    {
        await using var host = await PythonTestHost.StartAsync("wsgi_apps:content_length_short", kestrel: true, validate: false);
        var shortResponse = await GetRawAsync(host, "/");
        Assert.Equal("12345", shortResponse.Body);
        Assert.False(shortResponse.Complete);
        Assert.Contains(host.Logs.Entries, e => e.EventId.Name == "ContentLengthShort");

        await using var longHost = await PythonTestHost.StartAsync("wsgi_apps:content_length_long", kestrel: true, validate: false);
        var longResponse = await GetRawAsync(longHost, "/");
        Assert.Equal("123", longResponse.Body);
        Assert.Contains(longHost.Logs.Entries, e => e.EventId.Name == "ContentLengthExceeded");
    }

    [Fact]
    public async Task StatusLine_KeepsTheAppsReasonPhrase_AndNoBodyStatusesSendNone()
    {
        await using var host = await PythonTestHost.StartAsync("wsgi_apps:custom_status", kestrel: true);
        Assert.Equal("HTTP/1.1 299 Quite Fine", (await GetRawAsync(host, "/")).StatusLine);

        await using var noContent = await PythonTestHost.StartAsync("wsgi_apps:no_content", kestrel: true);
        var response = await GetRawAsync(noContent, "/");
        Assert.Equal("HTTP/1.1 204 No Content", response.StatusLine);
        Assert.Equal("", response.Body);
    }

    [Fact]
    public async Task Head_SendsNoBody()
    {
        await using var host = await PythonTestHost.StartAsync("wsgi_apps:hello", kestrel: true);
        var response = await GetRawAsync(host, "/x", "HEAD");
        Assert.Equal("HTTP/1.1 200 OK", response.StatusLine);
        Assert.Equal("", response.Body);
    }

    [Fact]
    public async Task FileWrapper_OverARealFile_GoesThroughSendFile_FromTheFilesPosition()
    {
        var path = Path.GetTempFileName();
        var content = new byte[200_000];
        new Random(5).NextBytes(content);
        await File.WriteAllBytesAsync(path, content);
        var sendFiles = 0;
        try
        {
            await using var host = await PythonTestHost.StartAsync(
                app =>
                {
                    app.Use((context, next) =>
                    {
                        var inner = context.Features.GetRequiredFeature<IHttpResponseBodyFeature>();
                        context.Features.Set<IHttpResponseBodyFeature>(new RecordingBodyFeature(inner, () => Interlocked.Increment(ref sendFiles)));
                        return next(context);
                    });
                    app.UsePythonWsgiApp("wsgi_apps:file_wrapper", o => o.UseValidator = false);
                },
                kestrel: true);

            var whole = await host.Client.GetAsync($"/?path={Uri.EscapeDataString(path)}");
            Assert.Equal(content, await whole.Content.ReadAsByteArrayAsync());
            Assert.Equal(content.Length, whole.Content.Headers.ContentLength);

            var tail = await host.Client.GetByteArrayAsync($"/?path={Uri.EscapeDataString(path)}&skip=150000");
            Assert.Equal(content[150_000..], tail);
            Assert.Equal(2, sendFiles);
        }
        finally
        {
            File.Delete(path);
        }
    }

    [Fact]
    public async Task FileWrapper_OverADeletedFile_IsSentFromItsDescriptor()
    {
        await using var host = await PythonTestHost.StartAsync("wsgi_apps:file_wrapper_deleted", kestrel: true);
        var body = await host.Client.GetStringAsync("/");
        Assert.Equal(string.Concat(Enumerable.Repeat("gone but readable ", 1000)), body);
    }

    [Fact]
    public async Task FileWrapper_OverAnythingElse_IsIteratedInBlocks()
    {
        await using var host = await PythonTestHost.StartAsync("wsgi_apps:file_wrapper_bytesio");
        Assert.Equal("not a real file", await host.Client.GetStringAsync("/"));
    }
}
