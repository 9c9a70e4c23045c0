using System.Text;

namespace GatewayBridge.Tests;

public class GatewayFormTests
{
    private static Dictionary<string, object?> WithBody(string body, string contentType = "application/x-www-form-urlencoded")
    {
        var environ = new Dictionary<string, object?>
        {
            [Environ.ContentType] = contentType,
            [Environ.Input] = new MemoryStream(Encoding.UTF8.GetBytes(body)),
        };
        GatewayUtil.SetupTestingDefaults(environ);
        return environ;
    }

    [Theory]
    [InlineData("a=1&a=2&b=3", "a", new[] { "1", "2" })]
    [InlineData("name=J%C3%BCrgen+M%C3%BCller", "name", new[] { "Jürgen Müller" })]
    [InlineData("q=a%2Bb+c", "q", new[] { "a+b c" })]
    [InlineData("empty=&x=1", "empty", new[] { "" })]
    [InlineData("bad=%zz", "bad", new[] { "%zz" })]
    [InlineData("?a=1", "?a", new[] { "1" })]                       // a '?' is part of the first key, as parse_qsl reads it
    [InlineData("x=%FF%C3&x=%E2%82", "x", new[] { "\uFFFD\uFFFD", "\uFFFD" })]   // bytes that are not UTF-8: U+FFFD per maximal subpart
    [InlineData("k=caf%C3%A9+é%A9", "k", new[] { "café é\uFFFD" })]    // a literal non-ASCII character splits the runs decoded as UTF-8
    public void ParseQuery_DecodesAndKeepsRepeatedKeys(string query, string key, string[] values)
    {
        var environ = new Dictionary<string, object?> { [Environ.QueryString] = query };
        Assert.Equal(values, GatewayForm.ParseQuery(environ)[key].ToArray());
    }

    [Fact]
    public void ParseQuery_OfAnEmptyOrMissingQuery_IsEmpty()
    {
        Assert.Empty(GatewayForm.ParseQuery(new Dictionary<string, object?>()));
        Assert.Empty(GatewayForm.ParseQuery(new Dictionary<string, object?> { [Environ.QueryString] = "" }));
    }

    [Fact]
    public void ReadForm_ReadsAUrlencodedBody()
    {
        var form = GatewayForm.ReadForm(WithBody("name=alice&tag=a&tag=b+c", "application/x-www-form-urlencoded; charset=utf-8"));
        Assert.Equal("alice", form["name"][0]);
        Assert.Equal(new[] { "a", "b c" }, form["tag"].ToArray());
    }

    [Theory]
    [InlineData("name=%4", "malformed percent escape")]
    [InlineData("name=100%", "malformed percent escape")]
    [InlineData("a=%GG", "malformed percent escape")]
    public void ReadForm_RefusesMalformedEscapes(string body, string expected)
    {
        var error = Assert.Throws<InvalidDataException>(() => GatewayForm.ReadForm(WithBody(body)));
        Assert.Contains(expected, error.Message, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("%zz=1", 0, "%zz")]
    [InlineData("a%G1=1", 1, "%G1")]
    [InlineData("a=%4G", 2, "%4G")]
    [InlineData("a=%41%42&b=%4", 11, "%4")]
    [InlineData("a=%41b%42c&d=%", 13, "%")]
    public void ReadForm_NamesTheFirstMalformedEscape_AndWhereItIs(string body, int at, string snippet)
    {
        var error = Assert.Throws<InvalidDataException>(() => GatewayForm.ReadForm(WithBody(body)));
        Assert.Contains($"escape '{snippet}' at byte {at};", error.Message, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("a=%41%42&b=%43", "AB", "C")]
    [InlineData("a=%e2%82%AC&b=100%25", "\u20ac", "100%")]
    public void ReadForm_DecodesWellFormedEscapes_AfterEachOther(string body, string a, string b)
    {
        var form = GatewayForm.ReadForm(WithBody(body));
        Assert.Equal((a, b), (form["a"][0], form["b"][0]));
    }

    [Fact]
    public void ReadForm_TakesExactlyItsLimits()
    {
        var form = GatewayForm.ReadForm(WithBody("a=1&b=2"), new GatewayFormLimits { ValueCountLimit = 2 });
        Assert.Equal(2, form.Count);
        var error = Assert.Throws<InvalidDataException>(() => GatewayForm.ReadForm(WithBody("a=1&b=2&a=3"), new GatewayFormLimits { ValueCountLimit = 2 }));
        Assert.Equal("The form has more than the limit of 2 fields.", error.Message);

        var body = "k=" + new string('v', 4094);
        Assert.Equal(new string('v', 4094), GatewayForm.ReadForm(WithBody(body), new GatewayFormLimits { MaxBodyLength = 4096 })["k"][0]);
        Assert.Throws<InvalidDataException>(() => GatewayForm.ReadForm(WithBody(body + "v"), new GatewayFormLimits { MaxBodyLength = 4096 }));
    }

    [Fact]
    public void ReadForm_RefusesOtherContentTypes()
    {
        var error = Assert.Throws<InvalidDataException>(() => GatewayForm.ReadForm(WithBody("{}", "application/json")));
        Assert.Contains("application/json", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void ReadForm_EnforcesItsLimits()
    {
        Assert.Throws<InvalidDataException>(() => GatewayForm.ReadForm(WithBody("a=1&b=2&c=3"), new GatewayFormLimits { ValueCountLimit = 2 }));
        Assert.Throws<InvalidDataException>(() => GatewayForm.ReadForm(WithBody("a=123456"), new GatewayFormLimits { ValueLengthLimit = 3 }));
        Assert.Throws<InvalidDataException>(() => GatewayForm.ReadForm(WithBody("abcdef=1"), new GatewayFormLimits { KeyLengthLimit = 3 }));
        var error = Assert.Throws<InvalidDataException>(() => GatewayForm.ReadForm(WithBody(new string('x', 5000) + "=1"), new GatewayFormLimits { MaxBodyLength = 4096 }));
        Assert.Contains("4096", error.Message, StringComparison.Ordinal);
    }
}
