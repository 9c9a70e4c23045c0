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

/// <summary>Request bodies over a real socket: chunked uploads, 100-continue, Kestrel's size limit, pipelined requests.</summary>
public class RequestOverKestrelTests
{
    private static GatewayApp EchoBody => (environ, startResponse) =>
    {
        var input = (Stream)environ[Environ.Input]!;
        var copy = new MemoryStream();
        var buffer = new byte[7];
        int read;
        while ((read = input.Read(buffer, 0, buffer.Length)) > 0)
        {
            copy.Write(buffer, 0, read);
        }

        startResponse("200 OK", [("Content-Type", "application/octet-stream")]);
        var length = environ.TryGetValue(Environ.ContentLength, out var cl) ? (string)cl! : "none";
        return [Bytes($"[{length}]"), copy.ToArray()];
    };

    [Fact]
    public async Task ChunkedUpload_IsBufferedAndReadSynchronously()
    {
        await using var host = await TestApp.StartAsync(EchoBody, kestrel: true);
        using var connection = host.Connect();

        await connection.SendAsync("POST /up HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked\r\nConnection: close\r\n\r\n5\r\nhello\r\n6\r\n world\r\n0\r\n\r\n");
        var (text, closed) = await connection.ReadToCloseAsync();

        Assert.True(closed);
        Assert.StartsWith("HTTP/1.1 200 OK", text, StringComparison.Ordinal);
        Assert.EndsWith("[none]hello world", text, StringComparison.Ordinal);
    }

    [Fact]
    public async Task PostWithContentLength_ReadsSynchronously_WithoutAllowSynchronousIO()
    {
        await using var host = await TestApp.StartAsync(EchoBody, kestrel: true);

        var response = await host.Client.PostAsync("/", new StringContent("0123456789abcdef"));
        Assert.Equal("[16]0123456789abcdef", await response.Content.ReadAsStringAsync());
    }

    [Fact]
    public async Task PipelinedKeepAliveRequests_GetTheirOwnAnswersInOrder()
    {
        await using var host = await TestApp.StartAsync(Echo(Environ.PathInfo), kestrel: true);
        using var connection = host.Connect();

        await connection.SendAsync("GET /first HTTP/1.1\r\nHost: t\r\n\r\nGET /second HTTP/1.1\r\nHost: t\r\n\r\nGET /third HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n");
        var (text, _) = await connection.ReadToCloseAsync();

        var first = text.IndexOf("/first", StringComparison.Ordinal);
        var second = text.IndexOf("/second", StringComparison.Ordinal);
        var third = text.IndexOf("/third", StringComparison.Ordinal);
        Assert.True(first > 0 && second > first && third > second, text);
        Assert.Equal(3, text.Split("HTTP/1.1 200 OK").Length - 1);
    }

    [Fact]
    public async Task ExpectContinue_GetsA100BeforeTheBodyIsSent()
    {
        await using var host = await TestApp.StartAsync(EchoBody, kestrel: true);
        using var connection = host.Connect();

        await connection.SendAsync("POST / HTTP/1.1\r\nHost: t\r\nContent-Length: 4\r\nExpect: 100-continue\r\nConnection: close\r\n\r\n");
        var interim = await connection.ReadUntilAsync("\r\n\r\n");
        Assert.StartsWith("HTTP/1.1 100 Continue", interim, StringComparison.Ordinal);

        await connection.SendAsync("ping");
        var (text, _) = await connection.ReadToCloseAsync();
        Assert.EndsWith("[4]ping", text, StringComparison.Ordinal);
    }

    [Fact]
    public async Task KestrelMaxRequestBodySize_Answers413BeforeTheAppRuns()
    {
        var calls = 0;
        await using var host = await TestApp.StartAsync(
            app => app.UseGatewayApp((environ, startResponse) =>
            {
                calls++;
                startResponse("200 OK", [("Content-Type", "text/plain")]);
                return [];
            }),
            kestrel: true,
            configure: builder => builder.WebHost.ConfigureKestrel(k => k.Limits.MaxRequestBodySize = 100));

        var response = await host.Client.PostAsync("/", new ByteArrayContent(new byte[1000]));
        Assert.Equal(HttpStatusCode.RequestEntityTooLarge, response.StatusCode);

        using var connection = host.Connect();
        await connection.SendAsync("POST / HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked\r\n\r\n3e8\r\n" + new string('x', 1000) + "\r\n0\r\n\r\n");
        Assert.StartsWith("HTTP/1.1 413", (await connection.ReadToCloseAsync()).Text, StringComparison.Ordinal);
        Assert.Equal(0, calls);
    }
}
