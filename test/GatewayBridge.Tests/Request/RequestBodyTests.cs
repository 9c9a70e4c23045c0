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
        Assert.Contains("for /", tooLarge.Message, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData(0, "none 0")]
    [InlineData(5, "memory 5")]
    [InlineData(10, "memory 10")]
    [InlineData(11, "413")]
    public async Task AContentLength_UpToBufferBodyLimit_IsBuffered_OneMoreIs413_AndAnEmptyOneIsNoBody(int length, string expected)
    {
        await using var host = await TestApp.StartAsync(DescribeInput, kestrel: true, options: o => o.BufferBodyLimit = 10, validate: false);

        var response = await host.Client.PostAsync("/upload", new ByteArrayContent(new byte[length]));

        Assert.Equal(expected, response.StatusCode == HttpStatusCode.OK ? await response.Content.ReadAsStringAsync() : ((int)response.StatusCode).ToString(System.Globalization.CultureInfo.InvariantCulture));
    }

    [Fact]
    public void WithoutTheServersBodyDetection_ARequestWithoutALength_MayHaveABody()
    {
        // A server without IHttpRequestBodyDetectionFeature: the body is read rather than assumed absent.
        var context = new Microsoft.AspNetCore.Http.DefaultHttpContext();
        Assert.True(RequestAdmission.HasBody(context));

        context.Features.Set<Microsoft.AspNetCore.Http.Features.IHttpRequestBodyDetectionFeature>(new NoBody());
        Assert.False(RequestAdmission.HasBody(context));
    }

    [Fact]
    public async Task BadChunkedFraming_IsKestrels400_NotA413_EvenWithALimit()
    {
        // Kestrel's own read failures are IOException subclasses; only the buffer's plain IOException means "too large".
        await using var host = await TestApp.StartAsync(DescribeInput, kestrel: true, options: o => o.BufferBodyLimit = 1000, validate: false);
        using var connection = host.Connect();
        await connection.SendAsync("POST / HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked\r\nConnection: close\r\n\r\nzz\r\n12345678\r\n0\r\n\r\n");
        var (text, _) = await connection.ReadToCloseAsync();

        Assert.StartsWith("HTTP/1.1 400", text, StringComparison.Ordinal);
        Assert.DoesNotContain(host.Logs.Entries, e => e.EventId.Name == "RequestBodyTooLarge");
    }

    // The spill tests share ASPNETCORE_TEMP, a process-wide setting: they live in this class, whose tests run one at a time.
    [Fact]
    public async Task ASpilledBody_IsDeleted_WhenTheRequestEnds()
    {
        await WithTempFolderAsync(async folder =>
        {
            await using var host = await TestApp.StartAsync(DescribeInput, kestrel: true, options: o => o.MemoryBufferThreshold = 16, validate: false);
            var answer = await (await host.Client.PostAsync("/", new ByteArrayContent(new byte[100]))).Content.ReadAsStringAsync();

            Assert.Equal($"file:{folder} 100", answer);
            await EmptiedAsync(folder, "the spilled body's file removed with its request");
        });
    }

    [Fact]
    public async Task ASpilledBody_OverTheLimit_IsDeleted_With413()
    {
        await WithTempFolderAsync(async folder =>
        {
            await using var host = await TestApp.StartAsync(DescribeInput, kestrel: true, options: o => { o.MemoryBufferThreshold = 16; o.BufferBodyLimit = 100; }, validate: false);
            using var connection = host.Connect();
            await connection.SendAsync("POST / HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked\r\nConnection: close\r\n\r\n50\r\n" + new string('x', 80) + "\r\n50\r\n" + new string('x', 80) + "\r\n0\r\n\r\n");

            Assert.StartsWith("HTTP/1.1 413", (await connection.ReadToCloseAsync()).Text, StringComparison.Ordinal);
            await EmptiedAsync(folder, "the rejected body's file removed");
        });
    }

    [Theory]
    [InlineData("zz\r\n")]   // bad framing after the spill: Kestrel fails the read
    [InlineData("")]          // the client leaves mid-upload
    public async Task ASpilledBody_WhoseUploadFails_IsDeleted(string tail)
    {
        await WithTempFolderAsync(async folder =>
        {
            await using var host = await TestApp.StartAsync(DescribeInput, kestrel: true, options: o => { o.MemoryBufferThreshold = 16; o.BufferBodyLimit = 10_000; }, validate: false);
            using (var connection = host.Connect())
            {
                await connection.SendAsync("POST / HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked\r\n\r\n50\r\n" + new string('x', 80) + "\r\n");
                await Eventually.HoldsAsync(() => Directory.EnumerateFileSystemEntries(folder).Any(), "the body spilled to a file");
                if (tail.Length > 0)
                {
                    await connection.SendAsync(tail);
                    await connection.ReadToCloseAsync();
                }
            }

            await EmptiedAsync(folder, "the failed upload's file removed");
        });
    }

    private static async Task WithTempFolderAsync(Func<string, Task> test)
    {
        var folder = Directory.CreateTempSubdirectory("gatewaybridge-temp-").FullName;
        Environment.SetEnvironmentVariable("ASPNETCORE_TEMP", folder);
        try
        {
            await test(folder);
        }
        finally
        {
            Environment.SetEnvironmentVariable("ASPNETCORE_TEMP", null);
            Directory.Delete(folder, recursive: true);
        }
    }

    private static Task EmptiedAsync(string folder, string what) => Eventually.HoldsAsync(() => !Directory.EnumerateFileSystemEntries(folder).Any(), what);

    private sealed class NoBody : Microsoft.AspNetCore.Http.Features.IHttpRequestBodyDetectionFeature
    {
        public bool CanHaveBody => false;
    }
}
