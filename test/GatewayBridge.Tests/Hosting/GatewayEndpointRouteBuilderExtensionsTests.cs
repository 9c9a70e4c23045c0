using System.Net;
using GatewayBridge.Tests.Infrastructure;
using Microsoft.AspNetCore.Authentication;
using Microsoft.AspNetCore.Builder;
using Microsoft.Extensions.DependencyInjection;
using static GatewayBridge.Tests.Infrastructure.Apps;

namespace GatewayBridge.Tests;

public class GatewayEndpointRouteBuilderExtensionsTests
{
    [Theory]
    [InlineData("/legacy", "/legacy", "")]
    [InlineData("/legacy/", "/legacy", "/")]
    [InlineData("/legacy/a/b", "/legacy", "/a/b")]
    [InlineData("/LEGACY/x", "/LEGACY", "/x")]
    [InlineData("/legacy/a%2Fb", "/legacy", "/a%2Fb")]
    [InlineData("/legacy/caf%C3%A9", "/legacy", "/café")]
    public async Task MapGatewayApp_SplitsScriptNameAndPathInfo(string url, string scriptName, string pathInfo)
    {
        await using var host = await TestApp.StartAsync(app => app.MapGatewayApp("/legacy", EchoMany(Environ.ScriptName, Environ.PathInfo)));

        Assert.Equal($"SCRIPT_NAME={scriptName}\nPATH_INFO={pathInfo}", await host.Client.GetStringAsync(url));
    }

    [Theory]
    [InlineData("/legacyx")]
    [InlineData("/other")]
    public async Task MapGatewayApp_DoesNotMatchOutsideItsPrefix(string url)
    {
        await using var host = await TestApp.StartAsync(app => app.MapGatewayApp("/legacy", Echo(Environ.PathInfo)));

        var response = await host.Client.GetAsync(url);
        Assert.Equal(HttpStatusCode.NotFound, response.StatusCode);
    }

    [Fact]
    public async Task MapGatewayApp_ScriptNameIncludesThePathBase()
    {
        await using var host = await TestApp.StartAsync(app =>
        {
            app.UsePathBase("/base");
            app.UseRouting();
            app.MapGatewayApp("/legacy", EchoMany(Environ.ScriptName, Environ.PathInfo));
        });

        Assert.Equal("SCRIPT_NAME=/base/legacy\nPATH_INFO=/x", await host.Client.GetStringAsync("/base/legacy/x"));
    }

    [Fact]
    public async Task MapGatewayApp_AtTheRoot_HasEmptyScriptName()
    {
        await using var host = await TestApp.StartAsync(app => app.MapGatewayApp("/", EchoMany(Environ.ScriptName, Environ.PathInfo)));

        Assert.Equal("SCRIPT_NAME=\nPATH_INFO=/a", await host.Client.GetStringAsync("/a"));
        Assert.Equal("SCRIPT_NAME=\nPATH_INFO=/", await host.Client.GetStringAsync("/"));
    }

    [Fact]
    public async Task MoreSpecificEndpoints_WinOverTheMount()
    {
        await using var host = await TestApp.StartAsync(app =>
        {
            app.MapGet("/legacy/ported", () => "native");
            app.MapGatewayApp("/legacy", Echo(Environ.PathInfo));
        });

        Assert.Equal("native", await host.Client.GetStringAsync("/legacy/ported"));
        Assert.Equal("/not-yet", await host.Client.GetStringAsync("/legacy/not-yet"));
    }

    [Theory]
    [InlineData(null, null, HttpStatusCode.Unauthorized, 0)]
    [InlineData("bob", null, HttpStatusCode.Forbidden, 0)]
    [InlineData("alice", "admin", HttpStatusCode.OK, 1)]
    public async Task RequireAuthorization_AnswersBeforeTheAppRuns(string? user, string? role, HttpStatusCode expected, int calls)
    {
        var called = 0;
        GatewayApp gatewayApp = (environ, startResponse) =>
        {
            called++;
            startResponse("200 OK", []);
            return [Bytes((string)environ[Environ.RemoteUser]!)];
        };

        await using var host = await TestApp.StartAsync(
            app =>
            {
                app.UseAuthentication();
                app.UseAuthorization();
                app.MapGatewayApp("/admin", gatewayApp).RequireAuthorization(p => p.RequireRole("admin"));
            },
            configure: builder =>
            {
                builder.Services.AddAuthentication(HeaderAuthHandler.SchemeName)
                    .AddScheme<AuthenticationSchemeOptions, HeaderAuthHandler>(HeaderAuthHandler.SchemeName, null);
                builder.Services.AddAuthorization();
            });

        var request = new HttpRequestMessage(HttpMethod.Get, "/admin/panel");
        if (user is not null)
        {
            request.Headers.Add("X-Test-User", user);
        }

        if (role is not null)
        {
            request.Headers.Add("X-Test-Role", role);
        }

        var response = await host.Client.SendAsync(request);
        Assert.Equal(expected, response.StatusCode);
        Assert.Equal(calls, called);
        if (calls == 1)
        {
            Assert.Equal("alice", await response.Content.ReadAsStringAsync());
        }
    }

    [Fact]
    public async Task MapGatewayApp_ReturnsABuilderForConventions()
    {
        await using var host = await TestApp.StartAsync(app =>
            app.MapGatewayApp("/named", Echo(Environ.PathInfo)).WithName("legacy-app"));

        var endpoints = host.App.Services.GetRequiredService<Microsoft.AspNetCore.Routing.EndpointDataSource>().Endpoints;
        var endpoint = Assert.Single(endpoints);
        Assert.Equal("Gateway app /named", endpoint.DisplayName);
        Assert.Equal("legacy-app", endpoint.Metadata.GetMetadata<Microsoft.AspNetCore.Routing.IEndpointNameMetadata>()?.EndpointName);
    }

    [Fact]
    public void SplitPath_FallsBackToTheWholePathWhenTheValueIsNotItsTail()
    {
        Assert.Equal(("/a/b", ""), RequestPath.SplitAtMount("/a/b", "zz"));
    }

    [Fact]
    public async Task MapGatewayApp_WithOptions_AppliesThemToThatAppOnly()
    {
        await using var host = await TestApp.StartAsync(app =>
        {
            app.MapGatewayApp("/kept", Echo("HTTP_X_TOKEN"), o => o.AllowUnderscoreHeaders = true);
            app.MapGatewayApp("/dropped", Echo("HTTP_X_TOKEN"));
        });

        async Task<string> GetAsync(string url)
        {
            using var request = new HttpRequestMessage(HttpMethod.Get, url);
            request.Headers.TryAddWithoutValidation("X_Token", "t");
            return await (await host.Client.SendAsync(request)).Content.ReadAsStringAsync();
        }

        Assert.Equal("t", await GetAsync("/kept/"));
        Assert.Equal("<absent>", await GetAsync("/dropped/"));
    }

    [Fact]
    public async Task MapGatewayApp_TakesRequireCors_LikeAnyEndpoint()
    {
        await using var host = await TestApp.StartAsync(
            app =>
            {
                app.UseRouting();
                app.UseCors();
                app.MapGatewayApp("/legacy", Echo(Environ.PathInfo)).RequireCors(p => p.WithOrigins("https://allowed.example").WithMethods("PUT"));
            },
            configure: builder => builder.Services.AddCors());

        using var preflight = new HttpRequestMessage(HttpMethod.Options, "/legacy/x");
        preflight.Headers.Add("Origin", "https://allowed.example");
        preflight.Headers.Add("Access-Control-Request-Method", "PUT");
        var allowed = await host.Client.SendAsync(preflight);

        Assert.Equal("https://allowed.example", allowed.Headers.GetValues("Access-Control-Allow-Origin").Single());
        using var other = new HttpRequestMessage(HttpMethod.Get, "/legacy/x");
        other.Headers.Add("Origin", "https://other.example");
        var response = await host.Client.SendAsync(other);
        Assert.Equal("/x", await response.Content.ReadAsStringAsync());
        Assert.False(response.Headers.Contains("Access-Control-Allow-Origin"));
    }
}
