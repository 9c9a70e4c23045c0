using System.Net;
using System.Text;
using GatewayBridge.Tests.Infrastructure;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.Logging;
using static GatewayBridge.Tests.Infrastructure.Apps;

namespace GatewayBridge.Tests;

/// <summary>PEP 3333's response rules in memory: when headers go out, write(), lengths, excInfo, bodyless statuses.</summary>
public class ResponseTests
{
    [Fact]
    public async Task IteratorApp_CallsStartResponseLazily()
    {
        static IEnumerable<byte[]> App(IDictionary<string, object?> environ, StartResponse startResponse)
        {
            startResponse("202 Accepted", [("Content-Type", "text/plain"), ("X-Lazy", "yes")]);
            yield return Bytes("one,");
            yield return [];
            yield return Bytes("two");
        }

        await using var host = await TestApp.StartAsync(App);
        var response = await host.Client.GetAsync("/");

        Assert.Equal(HttpStatusCode.Accepted, response.StatusCode);
        Assert.Equal("yes", response.Headers.GetValues("X-Lazy").Single());
        Assert.Equal("one,two", await response.Content.ReadAsStringAsync());
    }

    [Fact]
    public async Task WriteCallable_SendsBytesBeforeTheIterable()
    {
        await using var host = await TestApp.StartAsync((environ, startResponse) =>
        {
            var write = startResponse("200 OK", [("Content-Type", "text/plain")]);
            write(Bytes("written,"));
            return [Bytes("returned")];
        });

        Assert.Equal("written,returned", await host.Client.GetStringAsync("/"));
    }

    [Fact]
    public async Task OneChunkBody_GetsAContentLength()
    {
        await using var host = await TestApp.StartAsync((environ, startResponse) =>
        {
            startResponse("200 OK", [("Content-Type", "text/plain")]);
            return [Bytes("12345")];
        });

        var response = await host.Client.GetAsync("/");
        Assert.Equal(5, response.Content.Headers.ContentLength);
    }

    [Fact]
    public async Task EmptyBody_SendsTheHeadersAtTheEnd()
    {
        await using var host = await TestApp.StartAsync((environ, startResponse) =>
        {
            startResponse("201 Created", [("Content-Type", "text/plain"), ("Location", "/new")]);
            return [];
        });

        var response = await host.Client.PostAsync("/", null);
        Assert.Equal(HttpStatusCode.Created, response.StatusCode);
        Assert.Equal("/new", response.Headers.Location?.ToString());
        Assert.Equal(0, response.Content.Headers.ContentLength);
    }

    [Fact]
    public async Task RepeatedResponseHeaders_AreAllSent()
    {
        await using var host = await TestApp.StartAsync((environ, startResponse) =>
        {
            startResponse("200 OK", [("Content-Type", "text/plain"), ("Set-Cookie", "a=1"), ("Set-Cookie", "b=2")]);
            return [];
        });

        var response = await host.Client.GetAsync("/");
        Assert.Equal(["a=1", "b=2"], response.Headers.GetValues("Set-Cookie"));
    }

    [Fact]
    public async Task CustomReasonPhrase_IsKept()
    {
        await using var host = await TestApp.StartAsync((environ, startResponse) =>
        {
            startResponse("299 Fine Enough", [("Content-Type", "text/plain")]);
            return [];
        });

        var response = await host.Client.GetAsync("/");
        Assert.Equal(299, (int)response.StatusCode);
        Assert.Equal("Fine Enough", response.ReasonPhrase);
    }

    [Fact]
    public async Task ExcInfo_ReplacesUnsentHeaders()
    {
        await using var host = await TestApp.StartAsync((environ, startResponse) =>
        {
            startResponse("200 OK", [("Content-Type", "text/plain"), ("X-Ok", "1")]);
            try
            {
                throw new FormatException("bad data");
            }
            catch (FormatException ex)
            {
                startResponse("400 Bad Request", [("Content-Type", "text/plain")], ex);
                return [Bytes("bad data")];
            }
        });

        var response = await host.Client.GetAsync("/");
        Assert.Equal(HttpStatusCode.BadRequest, response.StatusCode);
        Assert.False(response.Headers.Contains("X-Ok"));
        Assert.Equal("bad data", await response.Content.ReadAsStringAsync());
    }

    [Fact]
    public async Task InvalidHeader_IsRefusedBeforeAnythingIsSent()
    {
        await using var host = await TestApp.StartAsync((environ, startResponse) =>
        {
            startResponse("200 OK", [("X-Evil", "a\r\nSet-Cookie: session=stolen")]);
            return [Bytes("never")];
        }, kestrel: true, validate: false);

        var response = await host.Client.GetAsync("/");
        Assert.Equal(HttpStatusCode.InternalServerError, response.StatusCode);
        Assert.False(response.Headers.Contains("Set-Cookie"));
        var failure = Assert.Single(await host.Logs.WaitForAsync(e => e.EventId.Name == "GatewayAppFailed"));
        Assert.Contains("X-Evil", failure.Exception?.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task BodyWithoutStartResponse_IsAnError()
    {
        await using var host = await TestApp.StartAsync((environ, startResponse) => [Bytes("no headers")], kestrel: true, validate: false);

        var response = await host.Client.GetAsync("/");
        Assert.Equal(HttpStatusCode.InternalServerError, response.StatusCode);
        var failure = Assert.Single(await host.Logs.WaitForAsync(e => e.EventId.Name == "GatewayAppFailed"));
        Assert.Contains("start_response", failure.Exception?.Message, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("HEAD", "200 OK")]
    [InlineData("GET", "204 No Content")]
    [InlineData("GET", "304 Not Modified")]
    public async Task BodylessResponses_SendNoBody(string method, string status)
    {
        var enumerated = false;
        IEnumerable<byte[]> Body()
        {
            enumerated = true;
            yield return Bytes("hello");
        }

        await using var host = await TestApp.StartAsync((environ, startResponse) =>
        {
            startResponse(status, status.StartsWith("200", StringComparison.Ordinal) ? [("Content-Type", "text/plain")] : []);
            return method == "HEAD" ? [Bytes("hello")] : Body();
        });

        var response = await host.Client.SendAsync(new HttpRequestMessage(new HttpMethod(method), "/"));
        Assert.Equal(int.Parse(status[..3], System.Globalization.CultureInfo.InvariantCulture), (int)response.StatusCode);
        Assert.Empty(await response.Content.ReadAsByteArrayAsync());
        if (method == "HEAD")
        {
            Assert.Equal(5, response.Content.Headers.ContentLength);
        }

        Assert.True(method == "HEAD" || enumerated);
    }

    [Fact]
    public async Task WriteInsideAGenerator_GoesOutBetweenTheChunksAroundIt()
    {
        static IEnumerable<byte[]> App(IDictionary<string, object?> environ, StartResponse startResponse)
        {
            var write = startResponse("200 OK", [("Content-Type", "text/plain")]);
            yield return Bytes("a");
            write(Bytes("w"));
            yield return Bytes("b");
            write(Bytes("x"));
        }

        await using var host = await TestApp.StartAsync(App);
        Assert.Equal("awbx", await host.Client.GetStringAsync("/"));
    }

    [Fact]
    public async Task FileWrapper_OverAnyStream_SendsItsBytes()
    {
        await using var host = await TestApp.StartAsync((environ, startResponse) =>
        {
            var wrap = (Func<Stream, int, IEnumerable<byte[]>>)environ[Environ.FileWrapper]!;
            startResponse("200 OK", [("Content-Type", "text/plain")]);
            return wrap(new MemoryStream(Bytes("from a stream")), 4);
        });

        var response = await host.Client.GetAsync("/");
        Assert.Equal("from a stream", await response.Content.ReadAsStringAsync());
        Assert.Equal(13, response.Content.Headers.ContentLength);
    }
}
