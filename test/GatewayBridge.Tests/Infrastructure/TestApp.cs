using Microsoft.AspNetCore.Builder;

namespace GatewayBridge.Tests.Infrastructure;

/// <summary>Starts a <see cref="TestHost"/> whose whole pipeline is one gateway app.</summary>
public static class TestApp
{
    /// <summary>Runs <paramref name="gatewayApp"/> as the whole pipeline, through the validator unless told not to.</summary>
    public static Task<TestHost> StartAsync(GatewayApp gatewayApp, bool kestrel = false, Action<GatewayOptions>? options = null, bool validate = true) =>
        TestHost.StartAsync(app => app.UseGatewayApp(validate ? GatewayValidator.Wrap(gatewayApp) : gatewayApp, options ?? (_ => { })), kestrel);

    /// <summary>The same as <see cref="TestHost.StartAsync"/>, named where the tests expect it.</summary>
    public static Task<TestHost> StartAsync(Action<WebApplication> pipeline, bool kestrel = false, Action<WebApplicationBuilder>? configure = null) =>
        TestHost.StartAsync(pipeline, kestrel, configure);
}
