using System.Net;
using System.Text;
using GatewayBridge.Tests.Infrastructure;
using Microsoft.AspNetCore.WebUtilities;
using Microsoft.Extensions.Logging;

namespace GatewayBridge.Tests;

/// <summary>How a request body reaches wsgi.input: buffered asynchronously, in memory up to a threshold, then in a file.</summary>
public class RequestBodyTests
{
    // Reports what the app's wsgi.input is, without the validator's wrapper around it.
    private static GatewayApp DescribeInput => (environ, startResponse) =>
    {
        var input = environ[Environ.Input];
        var description = input switch
        {
            FileBufferingReadStream { InMemory: true } => "memory",
            FileBufferingReadStream buffered => "file:" + Path.GetDirectoryName(buffered.TempFileName),
            _ when ReferenceEquals(input, Stream.Null) => "none",
            _ => input?.GetType().Name ?? "null",
        };
        var length = 0L;
        var buffer = new byte[8192];
        int read;
        while ((read = ((Stream)input!).Read(buffer, 0, buffer.Length)) > 0)
        {
            length += read;
        }

        startResponse("200 OK", [("Content-Type", "text/plain")]);
        return [Encoding.ASCII.GetBytes($"{description} {length}")];
    };

    [Fact]
    public async Task ARequestWithoutABody_IsNeverBuffered()
    {
        await using var host = await TestApp.StartAsync(DescribeInput, kestrel: true, validate: false);
        Assert.Equal("none 0", await host.Client.GetStringAsync("/"));
    }

    [Fact]
    public async Task ABodyUpToTheThreshold_StaysInMemory_AndOneAboveItSpillsToAFile()
    {
        await using var host = await TestApp.StartAsync(DescribeInput, kestrel: true, options: o => o.MemoryBufferThreshold = 1024, validate: false);

        Assert.Equal("memory 1000", await (await host.Client.PostAsync("/", new ByteArrayContent(new byte[1000]))).Content.ReadAsStringAsync());
        var spilled = await (await host.Client.PostAsync("/", new ByteArrayContent(new byte[5000]))).Content.ReadAsStringAsync();
        Assert.StartsWith("file:", spilled, StringComparison.Ordinal);
        Assert.EndsWith(" 5000", spilled, StringComparison.Ordinal);
    }

    [Fact]
    public async Task SpilledBodies_GoToAspNetCoreTemp()
    {
        var folder = Directory.CreateTempSubdirectory("gatewaybridge-temp-").FullName;
        Environment.SetEnvironmentVariable("ASPNETCORE_TEMP", folder);
        try
        {
            await using var host = await TestApp.StartAsync(DescribeInput, kestrel: true, options: o => o.MemoryBufferThreshold = 16, validate: false);
            var answer = await (await host.Client.PostAsync("/", new ByteArrayContent(new byte[100]))).Content.ReadAsStringAsync();
            Assert.Equal($"file:{folder} 100", answer);
        }
        finally
        {
            Environment.SetEnvironmentVariable("ASPNETCORE_TEMP", null);
            Directory.Delete(folder, recursive: true);
        }
    }

    [Fact]
    public async Task AChunkedUploadOverBufferBodyLimit_Is413_AndTheAppNeverRuns()
    {
        var ran = false;
        await using var host = await TestApp.StartAsync(
            (environ, startResponse) =>
            {
                ran = true;
                startResponse("200 OK", [("Content-Type", "text/plain")]);
                return [];
            },
            kestrel: true,
            options: o => o.BufferBodyLimit = 10);
        using var connection = host.Connect();
        await connection.SendAsync("POST / HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked\r\nConnection: close\r\n\r\n8\r\n12345678\r\n8\r\n12345678\r\n0\r\n\r\n");
        var (text, _) = await connection.ReadToCloseAsync();

        Assert.StartsWith("HTTP/1.1 413", text, StringComparison.Ordinal);
        Assert.False(ran);
        var tooLarge = Assert.Single(host.Logs.Entries, e => e.EventId.Name == "RequestBodyTooLarge");
        Assert.Equal((6, LogLevel.Information), (tooLarge.EventId.Id, tooLarge.Level));
    }
}
