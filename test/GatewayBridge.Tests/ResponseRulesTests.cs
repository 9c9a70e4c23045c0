namespace GatewayBridge.Tests;

public class ResponseRulesTests
{
    [Theory]
    [InlineData("200 OK", 200, "OK")]
    [InlineData("404 Not Found", 404, "Not Found")]
    [InlineData("299 My Own Reason", 299, "My Own Reason")]
    [InlineData("200 ok", 200, "ok")]
    [InlineData("200 OK ", 200, "OK ")]
    [InlineData("500 ", 500, "")]
    public void ParseStatus_AcceptsCodeSpaceReason(string status, int code, string reason)
    {
        Assert.Equal((code, reason), ResponseRules.ParseStatus(status));
    }

    [Theory]
    [InlineData("200")]
    [InlineData("200OK")]
    [InlineData("20 OK")]
    [InlineData("abc OK")]
    [InlineData(" 200 OK")]
    [InlineData("100 Continue")]
    [InlineData("200 OK\r\nSet-Cookie: x=1")]
    public void ParseStatus_RejectsMalformedStatus(string status)
    {
        var error = Assert.Throws<ArgumentException>(() => ResponseRules.ParseStatus(status));
        Assert.Contains("status", error.Message, StringComparison.Ordinal);
        Assert.DoesNotContain("\r\n", error.Message, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("Connection")]
    [InlineData("keep-alive")]
    [InlineData("Proxy-Authenticate")]
    [InlineData("Proxy-Authorization")]
    [InlineData("TE")]
    [InlineData("Trailers")]
    [InlineData("TRANSFER-ENCODING")]
    [InlineData("Upgrade")]
    public void Headers_RejectHopByHopByName(string name)
    {
        var error = Assert.Throws<ArgumentException>(() => ResponseRules.ValidateHeaders([(name, "x")], out _));
        Assert.Contains(name, error.Message, StringComparison.Ordinal);
        Assert.Contains("hop-by-hop", error.Message, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("X-Evil", "a\r\nSet-Cookie: b=1")]
    [InlineData("X-Evil", "a\nb")]
    [InlineData("X-Evil", "a\0b")]
    [InlineData("X Evil", "a")]
    [InlineData("X-Evil:", "a")]
    [InlineData("X-Évil", "a")]
    [InlineData("", "a")]
    public void Headers_RejectInjectionAndBadNames(string name, string value)
    {
        var error = Assert.Throws<ArgumentException>(() => ResponseRules.ValidateHeaders([(name, value)], out _));
        Assert.Contains("header", error.Message, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("abc")]
    [InlineData("-1")]
    [InlineData("1.5")]
    [InlineData("")]
    [InlineData("99999999999999999999")]
    public void ContentLength_MustBeAWholeNumber(string value)
    {
        var error = Assert.Throws<ArgumentException>(() => ResponseRules.ValidateHeaders([("Content-Length", value)], out _));
        Assert.Contains("Content-Length", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Headers_AcceptTabsAndReturnTheDeclaredLength()
    {
        var copy = ResponseRules.ValidateHeaders([("X-Tab", "a\tb"), ("content-length", "42")], out var length);
        Assert.Equal(42, length);
        Assert.Equal(2, copy.Length);
    }
}
