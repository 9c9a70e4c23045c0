using GatewayBridge.Tests.Infrastructure;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;

namespace GatewayBridge.Tests;

/// <summary>
/// Every public entry point refuses a missing argument where the caller made the mistake, naming the parameter, rather
/// than failing later with a NullReferenceException inside a request.
/// </summary>
public class ArgumentGuardTests
{
    private static readonly GatewayApp App = (environ, startResponse) => [];

    public static NamedCases<(string Parameter, Action Call)> NullArguments { get; } = new()
    {
        { "UseGatewayApp: app", ("app", () => GatewayApplicationBuilderExtensions.UseGatewayApp(null!, App)) },
        { "UseGatewayApp: gatewayApp", ("gatewayApp", () => NewBuilder().UseGatewayApp(null!)) },
        { "UseGatewayApp(options): app", ("app", () => GatewayApplicationBuilderExtensions.UseGatewayApp(null!, App, _ => { })) },
        { "UseGatewayApp(options): gatewayApp", ("gatewayApp", () => NewBuilder().UseGatewayApp(null!, _ => { })) },
        { "UseGatewayApp(options): configure", ("configure", () => NewBuilder().UseGatewayApp(App, null!)) },
        { "MapGatewayApp: endpoints", ("endpoints", () => GatewayEndpointRouteBuilderExtensions.MapGatewayApp(null!, "/x", App)) },
        { "MapGatewayApp: prefix", ("prefix", () => NewApp().MapGatewayApp(null!, App)) },
        { "MapGatewayApp: gatewayApp", ("gatewayApp", () => NewApp().MapGatewayApp("/x", null!)) },
        { "MapGatewayApp(options): endpoints", ("endpoints", () => GatewayEndpointRouteBuilderExtensions.MapGatewayApp(null!, "/x", App, _ => { })) },
        { "MapGatewayApp(options): prefix", ("prefix", () => NewApp().MapGatewayApp(null!, App, _ => { })) },
        { "MapGatewayApp(options): gatewayApp", ("gatewayApp", () => NewApp().MapGatewayApp("/x", null!, _ => { })) },
        { "MapGatewayApp(options): configure", ("configure", () => NewApp().MapGatewayApp("/x", App, null!)) },
        { "GatewayValidator.Wrap: app", ("app", () => GatewayValidator.Wrap(null!)) },
        { "GatewayServer.MakeServer: host", ("host", () => GatewayServer.MakeServer(null!, 0, App)) },
        { "GatewayServer.MakeServer: app", ("app", () => GatewayServer.MakeServer("127.0.0.1", 0, null!)) },
        { "GatewayUtil.RequestUri: environ", ("environ", () => GatewayUtil.RequestUri(null!)) },
        { "GatewayUtil.ApplicationUri: environ", ("environ", () => GatewayUtil.ApplicationUri(null!)) },
        { "GatewayUtil.ShiftPathInfo: environ", ("environ", () => GatewayUtil.ShiftPathInfo(null!)) },
        { "GatewayUtil.GuessScheme: environ", ("environ", () => GatewayUtil.GuessScheme(null!)) },
        { "GatewayUtil.SetupTestingDefaults: environ", ("environ", () => GatewayUtil.SetupTestingDefaults(null!)) },
        { "GatewayUtil.IsHopByHop: headerName", ("headerName", () => GatewayUtil.IsHopByHop(null!)) },
        { "GatewayForm.ParseQuery: environ", ("environ", () => GatewayForm.ParseQuery(null!)) },
        { "GatewayForm.ReadForm: environ", ("environ", () => GatewayForm.ReadForm(null!)) },
        { "new ResponseHeaders: headers", ("headers", () => _ = new ResponseHeaders(null!)) },
        { "ResponseHeaders[name] =: value", ("value", () => new ResponseHeaders()["X"] = null!) },
        { "ResponseHeaders.Get: name", ("name", () => new ResponseHeaders().Get(null!)) },
        { "ResponseHeaders.GetAll: name", ("name", () => new ResponseHeaders().GetAll(null!)) },
        { "ResponseHeaders.Remove: name", ("name", () => new ResponseHeaders().Remove((string)null!)) },
        { "ResponseHeaders.AddHeader: name", ("name", () => new ResponseHeaders().AddHeader(null!, "v")) },
        { "ResponseHeaders.AddHeader: parameters", ("parameters", () => new ResponseHeaders().AddHeader("X", "v", null!)) },
        { "ResponseHeaders.Add: name", ("name", () => new ResponseHeaders().Add((null!, "v"))) },
        { "ResponseHeaders.Add: value", ("value", () => new ResponseHeaders().Add(("X", null!))) },
        { "ResponseHeaders[index] =: value", ("value", () => new ResponseHeaders([("X", "v")])[0] = ("X", null!)) },
        { "ResponseHeaders.Insert: value", ("value", () => new ResponseHeaders().Insert(0, ("X", null!))) },
    };

    [Theory]
    [MemberData(nameof(NullArguments))]
    public void ANullArgument_IsRefused_NamingTheParameter(string member)
    {
        var (parameter, call) = NullArguments[member];

        var error = Assert.Throws<ArgumentNullException>(call);

        Assert.True(parameter == error.ParamName, $"{member}: refused {error.ParamName}, expected {parameter}");
    }

    [Theory]
    [InlineData(-1)]
    [InlineData(65536)]
    public void MakeServer_RefusesAPortOutsideTheTcpRange(int port)
    {
        var error = Assert.Throws<ArgumentOutOfRangeException>(() => GatewayServer.MakeServer("127.0.0.1", port, App));

        Assert.Equal("port", error.ParamName);
        Assert.Contains($"'{port}'", error.Message, StringComparison.Ordinal); // refused before Kestrel sees it, saying what was given
    }

    [Fact]
    public void AnEmptyEnviron_StillAnswers_TheUtilitiesThatNeedNoKeys()
    {
        // Null is refused; an environ without the keys is the caller's business and gets wsgiref's defaults.
        Assert.Equal("http", GatewayUtil.GuessScheme(new Dictionary<string, object?>()));
        Assert.Null(GatewayUtil.ShiftPathInfo(new Dictionary<string, object?>()));
    }

    private static IApplicationBuilder NewBuilder() => NewApp();

    private static WebApplication NewApp() => WebApplication.CreateSlimBuilder().Build();
}
