using System.Net.Http.Headers;
using System.Security.Cryptography;
using System.Text;
using System.Text.Json;
using GatewayBridge.Python.Tests.Infrastructure;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;

namespace GatewayBridge.Python.Tests.Wsgi;

/// <summary>wsgi.input as a real binary file over the buffered body.</summary>
public class PythonInputTests
{
    private static async Task<JsonElement> ReportAsync(TestHost host, HttpContent content)
    {
        var response = await host.Client.PostAsync("/", content);
        response.EnsureSuccessStatusCode();
        return JsonDocument.Parse(await response.Content.ReadAsStringAsync()).RootElement;
    }

    [Fact]
    public async Task ASmallBody_IsAnInMemoryFile()
    {
        await using var host = await PythonTestHost.StartAsync("wsgi_apps:input_report", kestrel: true, validate: false);
        var body = Encoding.ASCII.GetBytes(new string('a', 1000));
        var report = await ReportAsync(host, new ByteArrayContent(body));

        Assert.Equal(1000, report.GetProperty("size").GetInt32());
        Assert.Equal(Convert.ToHexStringLower(SHA256.HashData(body)), report.GetProperty("sha256").GetString());
        Assert.Equal("BytesIO", report.GetProperty("type").GetString());
    }

    [Fact]
    public async Task A50MegabyteUpload_IsReadFromItsSpilledFile_NeverOnePythonBytes()
    {
        await using var host = await PythonTestHost.StartAsync(
            app => app.UsePythonWsgiApp("wsgi_apps:input_report"),
            kestrel: true,
            configure: b => b.WebHost.ConfigureKestrel(k => k.Limits.MaxRequestBodySize = 64L * 1024 * 1024));
        var body = new byte[50 * 1024 * 1024];
        new Random(7).NextBytes(body);
        var report = await ReportAsync(host, new ByteArrayContent(body));

        Assert.Equal(body.Length, report.GetProperty("size").GetInt32());
        Assert.Equal(Convert.ToHexStringLower(SHA256.HashData(body)), report.GetProperty("sha256").GetString());
        // A buffered reader over a real file descriptor: Python reads it in blocks as the app asks.
        Assert.Equal("BufferedReader", report.GetProperty("type").GetString());
        Assert.True(report.GetProperty("has_fileno").GetBoolean());
        Assert.Equal(65536, report.GetProperty("largest_read").GetInt32());
    }

    [Fact]
    public async Task AChunkedUpload_IsReadToItsEnd_WithoutContentLength()
    {
        await using var host = await PythonTestHost.StartAsync("wsgi_apps:input_report", kestrel: true);
        using var connection = host.Connect();
        await connection.SendAsync("POST / HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked\r\nConnection: close\r\n\r\n5\r\nhello\r\n6\r\n world\r\n0\r\n\r\n");
        var (text, _) = await connection.ReadToCloseAsync();
        var report = JsonDocument.Parse(RawResponse.Parse(text).Body).RootElement;

        Assert.Equal(11, report.GetProperty("size").GetInt32());
        Assert.Equal(Convert.ToHexStringLower(SHA256.HashData("hello world"u8)), report.GetProperty("sha256").GetString());
    }

    [Theory]
    [InlineData("lines")]
    [InlineData("iterate")]
    [InlineData("readline")]
    public async Task LinesCanBeRead_AsFromAnyFile(string mode)
    {
        await using var host = await PythonTestHost.StartAsync("wsgi_apps:input_report");
        var response = await host.Client.PostAsync($"/?mode={mode}", new StringContent("one\ntwo\nthree"));
        Assert.Equal("one\ntwo\nthree", await response.Content.ReadAsStringAsync());
    }

    [Fact]
    public async Task AGet_HasAnEmptyInput()
    {
        await using var host = await PythonTestHost.StartAsync("wsgi_apps:input_report", kestrel: true);
        var report = JsonDocument.Parse(await host.Client.GetStringAsync("/")).RootElement;
        Assert.Equal(0, report.GetProperty("size").GetInt32());
    }
}
