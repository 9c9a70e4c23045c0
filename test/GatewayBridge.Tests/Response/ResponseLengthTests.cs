using System.Text;
using GatewayBridge.Tests.Infrastructure;
using Microsoft.Extensions.Logging;

namespace GatewayBridge.Tests;

/// <summary>
/// A declared Content-Length against the bytes each kind of body produces, over real Kestrel: exact bodies pass without
/// a warning, longer ones are cut and warned about once, shorter ones are warned about and end the connection.
/// </summary>
public class ResponseLengthTests
{
    private static readonly (string, string)[] Text = [("Content-Type", "text/plain")];

    public static NamedCases<GatewayApp> ExactBodies { get; } = new()
    {
        { "one chunk", (e, s) => { s("200 OK", [.. Text, ("Content-Length", "5")]); return [Bytes("hello")]; } },
        { "chunks", (e, s) => { s("200 OK", [.. Text, ("Content-Length", "5")]); return [Bytes("he"), Bytes("llo")]; } },
        { "write and chunks", (e, s) => { s("200 OK", Text)(Bytes("he")); return [Bytes("l"), Bytes("lo")]; } },
        { "write, chunks and a length", (e, s) => { s("200 OK", [.. Text, ("Content-Length", "5")])(Bytes("he")); return [Bytes("l"), Bytes("lo")]; } },
        { "an iterator", (e, s) => Lazy(s, "5", "he", "llo") },
        { "an iterator without a length", (e, s) => Lazy(s, null, "he", "llo") },
        { "a file", (e, s) => { s("200 OK", [.. Text, ("Content-Length", "5")]); return Wrap(e, "hello"); } },
        { "a file without a length", (e, s) => { s("200 OK", Text); return Wrap(e, "hello"); } },
    };

    [Theory]
    [MemberData(nameof(ExactBodies))]
    public async Task AnExactBody_ArrivesWhole_WithoutAWarning(string kind)
    {
        await using var host = await TestApp.StartAsync(ExactBodies[kind], kestrel: true);

        var response = await host.Client.GetAsync("/exact");

        Assert.True("hello" == await response.Content.ReadAsStringAsync(), kind);
        await FinishedAsync(host);
        Assert.DoesNotContain(host.Logs.Entries, e => e.Level >= LogLevel.Warning);
    }

    [Fact]
    public async Task AnEmptyIterator_IsSentWithContentLengthZero()
    {
        await using var host = await TestApp.StartAsync((e, s) => Lazy(s, null), kestrel: true);
        using var connection = host.Connect();

        await connection.SendAsync("GET / HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n");
        var response = RawResponse.Parse((await connection.ReadToCloseAsync()).Text);

        Assert.Equal("0", response.Header("Content-Length"));
        Assert.Null(response.Header("Transfer-Encoding"));
    }

    [Fact]
    public async Task AnEmptyBody_UnderADeclaredLength_IsShort_AndEndsTheConnection()
    {
        await using var host = await TestApp.StartAsync((e, s) => Lazy(s, "5"), kestrel: true);
        using var connection = host.Connect();

        await connection.SendAsync("GET /short HTTP/1.1\r\nHost: t\r\n\r\n");
        var (_, closed) = await connection.ReadToCloseAsync();

        Assert.True(closed);
        var warning = Assert.Single(await host.Logs.WaitForAsync(e => e.EventId.Name == "ContentLengthShort"));
        Assert.Contains("/short", warning.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task ChunksPastTheDeclaredLength_AreCut_AndWarnedAboutOnce()
    {
        await using var host = await TestApp.StartAsync((e, s) => Lazy(s, "3", "ab", "cd", "ef", "gh"), kestrel: true);

        Assert.Equal("abc", await host.Client.GetStringAsync("/long"));
        await FinishedAsync(host);

        var warning = Assert.Single(host.Logs.Entries, e => e.EventId.Name == "ContentLengthExceeded");
        Assert.Contains("/long", warning.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task OneChunkLongerThanDeclared_IsCutThere()
    {
        await using var host = await TestApp.StartAsync(
            (e, s) =>
            {
                s("200 OK", [.. Text, ("Content-Length", "3")]);
                return [Bytes("abcdef")];
            },
            kestrel: true);

        Assert.Equal("abc", await host.Client.GetStringAsync("/"));
        Assert.NotEmpty(await host.Logs.WaitForAsync(e => e.EventId.Name == "ContentLengthExceeded"));
    }

    [Fact]
    public async Task AFileLongerThanDeclared_IsCut_AndWarnedAbout()
    {
        await using var host = await TestApp.StartAsync(
            (e, s) =>
            {
                s("200 OK", [.. Text, ("Content-Length", "3")]);
                return Wrap(e, "abcdef");
            },
            kestrel: true);

        Assert.Equal("abc", await host.Client.GetStringAsync("/file"));
        var warning = Assert.Single(await host.Logs.WaitForAsync(e => e.EventId.Name == "ContentLengthExceeded"));
        Assert.Contains("/file", warning.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task AFileWrapper_SendsTheFileFromWhereTheAppLeftIt()
    {
        await using var host = await TestApp.StartAsync(
            (e, s) =>
            {
                s("200 OK", Text);
                var file = OpenFile("0123456789");
                file.Position = 4;
                return ((Func<Stream, int, IEnumerable<byte[]>>)e[Environ.FileWrapper]!)(file, 0);
            },
            kestrel: true);

        var response = await host.Client.GetAsync("/");

        Assert.Equal("456789", await response.Content.ReadAsStringAsync());
        Assert.Equal(6, response.Content.Headers.ContentLength);
    }

    [Theory]
    [InlineData("GET", "cde")]
    [InlineData("HEAD", "")]
    public async Task AWrappedStream_ThatIsNoFile_IsSentFromItsPosition_WithTheLengthLeft(string method, string expectedBody)
    {
        await using var host = await TestApp.StartAsync(
            (e, s) =>
            {
                s("200 OK", Text);
                var stream = new MemoryStream(Encoding.ASCII.GetBytes("abcde")) { Position = 2 };
                return ((Func<Stream, int, IEnumerable<byte[]>>)e[Environ.FileWrapper]!)(stream, 2);
            },
            kestrel: true);
        using var connection = host.Connect();

        await connection.SendAsync($"{method} / HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n");
        var response = RawResponse.Parse((await connection.ReadToCloseAsync()).Text);

        Assert.Equal(("3", expectedBody), (response.Header("Content-Length"), response.Body));
    }

    [Fact]
    public async Task AWrappedStream_ThatCannotSeek_IsSentChunked_ToItsEnd()
    {
        await using var host = await TestApp.StartAsync(
            (e, s) =>
            {
                s("200 OK", Text);
                return ((Func<Stream, int, IEnumerable<byte[]>>)e[Environ.FileWrapper]!)(new ForwardOnlyStream(Encoding.ASCII.GetBytes("abcde")), 2);
            },
            kestrel: true);
        using var connection = host.Connect();

        await connection.SendAsync("GET / HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n");
        var response = RawResponse.Parse((await connection.ReadToCloseAsync()).Text);

        Assert.Equal((null, true, true, "abcde"), (response.Header("Content-Length"), response.Chunked, response.Complete, response.Body));
    }

    [Fact]
    public async Task ALargeListBody_ToAClientThatReadsLate_ArrivesWhole()
    {
        // Past what Kestrel and both socket buffers hold (the client's is kept small): the write cannot complete
        // until the client reads, so the writer has to wait for it before completing the response.
        var body = new byte[8 * 1024 * 1024];
        new Random(5).NextBytes(body);
        await using var host = await TestApp.StartAsync(
            (e, s) =>
            {
                s("200 OK", [.. Text, ("Content-Length", (body.Length + 10).ToString(System.Globalization.CultureInfo.InvariantCulture))]);
                return [body];
            },
            kestrel: true);
        using var connection = host.Connect(receiveBuffer: 8192);
        await connection.SendAsync("GET /large HTTP/1.1\r\nHost: t\r\n\r\n");

        var (text, closed) = await connection.ReadToCloseAsync(TimeSpan.FromSeconds(20));

        Assert.True(closed, "a body shorter than declared must end the connection");
        Assert.True(Encoding.Latin1.GetBytes(RawResponse.Parse(text).Body).AsSpan().SequenceEqual(body));
        Assert.NotEmpty(await host.Logs.WaitForAsync(e => e.EventId.Name == "ContentLengthShort"));
        Assert.DoesNotContain(host.Logs.Entries, e => e.EventId.Name == "GatewayAppFailed");
    }

    private static byte[] Bytes(string text) => Encoding.ASCII.GetBytes(text);

    // A pipe or socket as an app might wrap it: readable once, front to back, with no length.
    private sealed class ForwardOnlyStream(byte[] bytes) : MemoryStream(bytes)
    {
        public override bool CanSeek => false;

        public override long Length => throw new NotSupportedException();

        public override long Position
        {
            get => throw new NotSupportedException();
            set => throw new NotSupportedException();
        }
    }

    private static IEnumerable<byte[]> Lazy(StartResponse startResponse, string? length, params string[] chunks)
    {
        startResponse("200 OK", length is null ? Text : [.. Text, ("Content-Length", length)]);
        foreach (var chunk in chunks)
        {
            yield return Bytes(chunk);
        }
    }

    private static FileStream OpenFile(string content)
    {
        var path = Path.GetTempFileName();
        File.WriteAllText(path, content);
        return new FileStream(path, FileMode.Open, FileAccess.Read, FileShare.Read | FileShare.Delete, 4096, FileOptions.DeleteOnClose);
    }

    private static IEnumerable<byte[]> Wrap(IDictionary<string, object?> environ, string content) =>
        ((Func<Stream, int, IEnumerable<byte[]>>)environ[Environ.FileWrapper]!)(OpenFile(content), 0);

    // The hosting layer logs the end of each request once the server is done with it, warnings included.
    private static Task FinishedAsync(TestHost host) =>
        host.Logs.WaitForAsync(e => e.Message.StartsWith("Request finished", StringComparison.Ordinal));
}
