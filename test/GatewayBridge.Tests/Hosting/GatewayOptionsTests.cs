using System.Net;
using GatewayBridge.Tests.Infrastructure;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.TestHost;

namespace GatewayBridge.Tests;

public class GatewayOptionsTests
{
    // Breaks one validator rule (no Content-Type) and nothing the server itself enforces.
    private static IEnumerable<byte[]> NoContentType(IDictionary<string, object?> environ, StartResponse startResponse)
    {
        startResponse("200 OK", []);
        return [[1]];
    }

    [Theory]
    [InlineData("Development", null, HttpStatusCode.InternalServerError)]
    [InlineData("Production", null, HttpStatusCode.OK)]
    [InlineData("Production", true, HttpStatusCode.InternalServerError)]
    [InlineData("Development", false, HttpStatusCode.OK)]
    public async Task UseValidator_DefaultsToOnInDevelopmentOnly(string environment, bool? useValidator, HttpStatusCode expected)
    {
        var builder = WebApplication.CreateSlimBuilder(new WebApplicationOptions { EnvironmentName = environment });
        builder.WebHost.UseTestServer();
        await using var app = builder.Build();
        app.UseExceptionHandler(new ExceptionHandlerOptions { ExceptionHandler = context => Task.CompletedTask });
        app.UseGatewayApp(NoContentType, o => o.UseValidator = useValidator);
        await app.StartAsync();

        var response = await app.GetTestClient().GetAsync("/");
        Assert.Equal(expected, response.StatusCode);
    }

    [Fact]
    public void Defaults_AreDocumentedValues()
    {
        var options = new GatewayOptions();
        Assert.False(options.AllowUnderscoreHeaders);
        Assert.Equal(64 * 1024, options.MemoryBufferThreshold);
        Assert.Null(options.BufferBodyLimit);
        Assert.Null(options.UseValidator);
        Assert.Equal(Environment.ProcessorCount, options.MaxInlineCalls);
        Assert.Equal(64, options.AppThreads);
        Assert.Equal(256, options.QueueLimit);
    }

    [Fact]
    public void WorkerThreads_TheOldNameOfAppThreads_StillSetsIt()
    {
        var options = new GatewayOptions();
#pragma warning disable CS0618 // The 0.1 name, kept one release: what it forwards to is what this test checks.
        options.WorkerThreads = 7;
        Assert.Equal(7, options.WorkerThreads);
#pragma warning restore CS0618
        Assert.Equal(7, options.AppThreads);
    }

    public static NamedCases<Action<GatewayOptions>> OutOfRange { get; } = new()
    {
        { "GatewayOptions.MemoryBufferThreshold", o => o.MemoryBufferThreshold = -1 },
        { "GatewayOptions.BufferBodyLimit", o => o.BufferBodyLimit = -1 },
        { "GatewayOptions.MaxInlineCalls", o => o.MaxInlineCalls = -1 },
        { "GatewayOptions.AppThreads", o => o.AppThreads = 0 },
        { "GatewayOptions.QueueLimit", o => o.QueueLimit = -1 },
    };

    [Theory]
    [MemberData(nameof(OutOfRange))]
    public async Task AnOptionOutOfRange_FailsWhereTheAppIsMounted_NamingIt(string name)
    {
        var configure = OutOfRange[name];
        var builder = WebApplication.CreateSlimBuilder();
        builder.WebHost.UseTestServer();
        await using var app = builder.Build();

        var error = Assert.Throws<ArgumentOutOfRangeException>(() => app.UseGatewayApp(NoContentType, configure));
        Assert.Equal(name, error.ParamName);
    }

    [Fact]
    public async Task TheLimitsThemselves_AreAccepted()
    {
        var builder = WebApplication.CreateSlimBuilder();
        builder.WebHost.UseTestServer();
        await using var app = builder.Build();

        app.UseGatewayApp(NoContentType, o =>
        {
            o.MemoryBufferThreshold = 0;
            o.BufferBodyLimit = 0;
            o.MaxInlineCalls = 0;
            o.AppThreads = 1;
            o.QueueLimit = 0;
        });
    }
}
