using System.Net;
using System.Text;
using GatewayBridge.Tests.Infrastructure;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.Logging;
using static GatewayBridge.Tests.Infrastructure.Apps;

namespace GatewayBridge.Tests;

/// <summary>The request body buffered before the app runs, read synchronously, spilled to disk, limited.</summary>
public class RequestBodyBufferingTests
{
    [Fact]
    public async Task PostBody_CanBeReadSynchronously_AndReadingPastTheEndGivesZero()
    {
        await using var host = await TestApp.StartAsync((environ, startResponse) =>
        {
            var input = (Stream)environ[Environ.Input]!;
            using var reader = new StreamReader(input, Encoding.UTF8, leaveOpen: true);
            var text = reader.ReadToEnd();
            var extra = input.Read(new byte[10], 0, 10);
            startResponse("200 OK", [("Content-Type", "text/plain")]);
            return [Bytes($"{environ[Environ.ContentLength]}:{text}:{extra}")];
        });

        var response = await host.Client.PostAsync("/", new StringContent("name=alice"));
        Assert.Equal("10:name=alice:0", await response.Content.ReadAsStringAsync());
    }

    [Fact]
    public async Task LargeBody_SpillsPastTheMemoryThreshold_AndArrivesIntact()
    {
        var payload = new byte[300_000];
        new Random(7).NextBytes(payload);
        await using var host = await TestApp.StartAsync(
            (environ, startResponse) =>
            {
                var copy = new MemoryStream();
                ((Stream)environ[Environ.Input]!).CopyTo(copy);
                startResponse("200 OK", [("Content-Type", "text/plain")]);
                return [copy.ToArray()];
            },
            options: o => o.MemoryBufferThreshold = 1024);

        var response = await host.Client.PostAsync("/", new ByteArrayContent(payload));
        Assert.Equal(payload, await response.Content.ReadAsByteArrayAsync());
    }

    [Fact]
    public async Task BufferBodyLimit_Answers413_WithoutRunningTheApp()
    {
        var calls = 0;
        await using var host = await TestApp.StartAsync(
            (environ, startResponse) =>
            {
                calls++;
                startResponse("200 OK", [("Content-Type", "text/plain")]);
                return [];
            },
            options: o => o.BufferBodyLimit = 100);

        var response = await host.Client.PostAsync("/", new ByteArrayContent(new byte[1000]));
        Assert.Equal(HttpStatusCode.RequestEntityTooLarge, response.StatusCode);
        Assert.Equal(0, calls);
    }
}
