using GatewayBridge.Python.Tests.Infrastructure;
using GatewayBridge.Serve;
using Microsoft.AspNetCore.Http;

namespace GatewayBridge.Python.Tests.Hosting;

/// <summary>The access log's line for what its middleware sees, without a server: what a socket test cannot stage.</summary>
public class AccessLogTests
{
    [Fact]
    public async Task AnEndpointThatThrows_BeforeItsResponse_IsLoggedWithThe500TheClientGets()
    {
        using var folder = new TempFolder();
        var file = Path.Combine(folder.Path, "access.log");
        var log = new AccessLog(file, "%(s)s %(b)s");
        var context = new DefaultHttpContext();

        await Assert.ThrowsAsync<InvalidOperationException>(() => log.Middleware(context, _ => throw new InvalidOperationException("broken")));
        await log.DisposeAsync();

        Assert.Equal(["500 0"], await File.ReadAllLinesAsync(file));
    }

    [Fact]
    public async Task AResponseThatStarted_BeforeTheEndpointThrew_IsLoggedWithItsOwnStatus()
    {
        using var folder = new TempFolder();
        var file = Path.Combine(folder.Path, "access.log");
        var log = new AccessLog(file, "%(s)s %(b)s");
        var context = new DefaultHttpContext();
        context.Features.Set<Microsoft.AspNetCore.Http.Features.IHttpResponseFeature>(new StartedResponse { StatusCode = 201 });

        await Assert.ThrowsAsync<InvalidOperationException>(() => log.Middleware(context, _ => throw new InvalidOperationException("broken")));
        await log.DisposeAsync();

        Assert.Equal(["201 0"], await File.ReadAllLinesAsync(file));
    }

    private sealed class StartedResponse : Microsoft.AspNetCore.Http.Features.HttpResponseFeature
    {
        public override bool HasStarted => true;
    }
}
