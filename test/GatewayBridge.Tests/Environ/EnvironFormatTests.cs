using System.Net;
using System.Security.Claims;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Http.Features;
using Microsoft.AspNetCore.Http.Features.Authentication;

namespace GatewayBridge.Tests;

/// <summary>The pieces that turn what the server knows into environ values, on the inputs a real server can send.</summary>
public class EnvironFormatTests
{
    [Theory]
    [InlineData("/p", null, "/p")]                      // TestServer: no raw target
    [InlineData("/a", "/a#frag", "/a")]                 // Kestrel passes a fragment into Path when there is no query
    [InlineData("/a#f?x", "/a#f?x", "/a")]              // a '?' after the '#' belongs to the fragment
    [InlineData("/a", "/a?x#f", "/a")]                  // a fragment after a query never reached Path
    [InlineData("/a#b", "/a%23b?q#b", "/a#b")]          // an encoded '#' is part of the path, even if the fragment repeats it
    [InlineData("/p", "/p#f%20x", "/p")]                // nothing to cut when the path does not end with the fragment
    [InlineData("/a #f x", "/a%20#f%20x", "/a ")]       // compared decoded, as Path is
    public void WithoutFragment_CutsOnlyTheClientsFragment(string pathInfo, string? rawTarget, string expected)
    {
        Assert.Equal(expected, RequestPath.WithoutFragment(pathInfo, rawTarget));
    }

    [Fact]
    public void ServerName_WithoutAHostOrALocalAddress_IsEmpty()
    {
        Assert.Equal("", EnvironFormat.ServerName(default, null));
        Assert.Equal("10.0.0.1", EnvironFormat.ServerName(default, IPAddress.Parse("10.0.0.1")));
    }

    [Theory]
    [InlineData(80, "80")]
    [InlineData(443, "443")]
    [InlineData(8080, "8080")]
    [InlineData(0, "0")]
    public void Port_IsTheDecimalNumber(int port, string expected)
    {
        Assert.Equal(expected, EnvironFormat.Port(port));
        Assert.Equal(expected, EnvironFormat.ServerPort(default, port, isHttps: false));
    }

    [Fact]
    public void RemoteUser_OfAnAuthenticatedUserWithoutAName_IsEmpty_NotAbsent()
    {
        var features = new FeatureCollection();
        features.Set<IHttpAuthenticationFeature>(new HttpAuthenticationFeature
        {
            User = new ClaimsPrincipal(new ClaimsIdentity([], authenticationType: "test")),
        });

        Assert.Equal("", EnvironFormat.RemoteUser(features));
    }

    [Fact]
    public void PseudoHeadersAndEmptyNames_NeverBecomeHttpKeys()
    {
        var headers = new HeaderDictionary { [":authority"] = "h", [""] = "x", ["X-A"] = "a" };

        var captured = EnvironHeaders.Capture(headers, allowUnderscoreHeaders: false, out var count);

        Assert.Equal([new KeyValuePair<string, object?>("HTTP_X_A", "a")], captured.Take(count));
    }

    [Fact]
    public void NoHeaders_CaptureNothing()
    {
        var captured = EnvironHeaders.Capture(new HeaderDictionary(), allowUnderscoreHeaders: true, out var count);

        Assert.Equal(0, count);
        Assert.Empty(captured);
    }

    [Fact]
    public void EveryCommonHeader_HasTheKeyTheGeneralRuleGives()
    {
        // The common names are answered from a switch; each answer must be what the rule computes.
        string[] names =
        [
            "Host", "Accept", "Accept-Encoding", "Accept-Language", "User-Agent", "Connection", "Cookie", "Referer", "Origin",
            "Authorization", "Cache-Control", "If-None-Match", "If-Modified-Since", "Upgrade-Insecure-Requests",
            "X-Forwarded-For", "X-Forwarded-Proto", "X-Requested-With",
        ];

        Assert.All(names, name => Assert.Equal(HeaderKeys.Compute(name), HeaderKeys.For(name)));
    }
}
