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

    [Theory]
    [InlineData("200OK", RuleIds.StatusFormat, "'200OK' is malformed")]
    [InlineData("102 Processing", RuleIds.StatusCode, "'102 Processing' is not a final status")]
    [InlineData("200 OK\r\nX: 1", RuleIds.StatusControlChars, "'200 OK\\r\\nX: 1' has a control character")]
    public void AStatusViolation_QuotesTheStatus_AndSaysWhatIsWrong(string status, string rule, string says)
    {
        var violation = ResponseRules.CheckStatus(status, out var code, out var reason);

        Assert.Equal(rule, violation?.Rule);
        Assert.Contains(says, violation?.Message, StringComparison.Ordinal);
        Assert.Equal("", rule == RuleIds.StatusFormat ? reason : "");
        Assert.Equal(rule == RuleIds.StatusFormat ? 0 : int.Parse(status[..3], System.Globalization.CultureInfo.InvariantCulture), code);
    }

    [Theory]
    [InlineData(null, "v", RuleIds.HeadersType, "null name")]
    [InlineData("X-A", null, RuleIds.HeadersType, "'X-A' has a null value")]
    [InlineData("", "v", RuleIds.HeadersName, "empty name")]
    [InlineData("X A", "v", RuleIds.HeadersName, "'X A' has a character")]
    [InlineData("X-A", "a\nb", RuleIds.HeadersValue, "'X-A' has a control character")]
    [InlineData("Connection", "close", RuleIds.HeadersHopByHop, "'Connection' is hop-by-hop")]
    [InlineData("Content-Length", "-1", RuleIds.HeadersContentLength, "value '-1'")]
    public void AHeaderViolation_NamesTheHeader_AndSaysWhatIsWrong(string? name, string? value, string rule, string says)
    {
        var violation = ResponseRules.CheckHeader(name, value);

        Assert.Equal(rule, violation?.Rule);
        Assert.Contains(says, violation?.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void TwoDifferentContentLengths_AreRefused_TwoEqualOnesAccepted()
    {
        var error = Assert.Throws<ArgumentException>(() => ResponseRules.ValidateHeaders([("Content-Length", "3"), ("content-length", "4")], out _));
        Assert.Contains("(3 and 4)", error.Message, StringComparison.Ordinal);

        ResponseRules.ValidateHeaders([("Content-Length", "3"), ("content-length", "3")], out var length);
        Assert.Equal(3, length);
    }

    [Fact]
    public void TheUsualReasonPhrase_AndAnEmptyHeaderList_AreShared_NotCopied()
    {
        // Per-response allocations the hot path avoids: "200 OK" reuses ASP.NET's phrase, no headers reuse one array.
        ResponseRules.CheckStatus("200 OK", out _, out var reason);

        Assert.Same(Microsoft.AspNetCore.WebUtilities.ReasonPhrases.GetReasonPhrase(200), reason);
        Assert.Same(Array.Empty<(string, string)>(), ResponseRules.ValidateHeaders([], out _));
    }
}
