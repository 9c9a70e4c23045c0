namespace GatewayBridge.Tests.Request;

/// <summary>The one place that splits a request's path, on the targets real servers receive.</summary>
public class RequestPathTests
{
    [Theory]
    [InlineData("/a/b", "/app/a/b?x=1", "/a/b")]
    [InlineData("/a%2Fb", "/app/a%2Fb", "/a%2Fb")]              // an encoded slash stays encoded in both
    [InlineData("/café", "/app/caf%C3%A9", "/caf%C3%A9")]       // the raw bytes, still percent-encoded
    [InlineData("", "/app", "")]
    [InlineData("/", "/app/", "/")]
    [InlineData("/a", "/a#frag", "/a")]
    [InlineData("/x", "http://h:80/x?q", "/x")]                 // absolute form
    [InlineData("/b", "/a/../b", null)]                         // Kestrel removed the dot segments: no longer lines up
    [InlineData("/b", "/a/%2e%2E/b", null)]
    [InlineData("/b", "/a/.%2e/b", null)]
    [InlineData("/a/b/c", "/x", null)]                           // more segments than the raw path has
    [InlineData("x", "/x", null)]                                 // no slash to cut at, and not empty
    public void RawPathInfo_IsTheRawTailThatPathInfoWasDecodedFrom(string pathInfo, string requestUri, string? expected)
    {
        Assert.Equal(expected, RequestPath.RawPathInfo(pathInfo, requestUri));
    }

    [Theory]
    [InlineData("/a?q", "/a")]
    [InlineData("/a#f?x", "/a")]
    [InlineData("/a.b/c", "/a.b/c")]
    [InlineData("http://h/a/b?q", "/a/b")]
    [InlineData("http://h", "/")]
    [InlineData("https://h:8443?q", "/")]
    public void RawPath_IsThePathPartOfTheTarget(string target, string expected)
    {
        Assert.Equal(expected, RequestPath.RawPath(target));
    }

    [Fact]
    public void RawPathInfo_KeepsADotThatIsNoSegment()
    {
        Assert.Equal("/v1.2/a..b", RequestPath.RawPathInfo("/v1.2/a..b", "/v1.2/a..b"));
    }
}
