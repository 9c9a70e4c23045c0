using GatewayBridge.Tests.Infrastructure;
namespace GatewayBridge.Tests;

/// <summary>The behaviours test_wsgiref checks for wsgiref.headers.Headers.</summary>
public class ResponseHeadersTests
{
    [Fact]
    public void MappingInterface_IsCaseInsensitiveAndKeepsOrder()
    {
        (string, string)[] test = [("x", "y")];
        Assert.Empty(new ResponseHeaders());
        Assert.Single(new ResponseHeaders(test));
        Assert.Equal(["x"], new ResponseHeaders(test).Keys());
        Assert.Equal(["y"], new ResponseHeaders(test).Values());
        Assert.Equal(test, new ResponseHeaders(test).Items());

        var h = new ResponseHeaders();
        Assert.Equal(0, h.Remove("foo"));
        h["Foo"] = "bar";
        foreach (var name in (string[])["foo", "Foo", "FOO"])
        {
            Assert.True(h.Contains(name));
            Assert.Equal("bar", h[name]);
            Assert.Equal(["bar"], h.GetAll(name));
        }

        Assert.False(h.Contains("bar"));
        Assert.Null(h["bar"]);
        h["foo"] = "baz";
        Assert.Equal("baz", h["FOO"]);
        Assert.Equal(["baz"], h.GetAll("foo"));
        Assert.Equal("baz", h.Get("foo", "whee"));
        Assert.Equal("whee", h.Get("zoo", "whee"));
        Assert.Equal("baz", h.SetDefault("foo", "whee"));
        Assert.Equal("whee", h.SetDefault("zoo", "whee"));
        Assert.Equal("baz", h["foo"]);
        Assert.Equal("whee", h["zoo"]);
    }

    [Fact]
    public void AsAList_InsertAndSetByIndex_CheckWhatTheyStore()
    {
        var h = new ResponseHeaders([("X-A", "1")]);
        Assert.False(h.IsReadOnly);

        h.Insert(0, ("X-B", "2"));
        h[1] = ("X-C", "3");

        Assert.Equal([("X-B", "2"), ("X-C", "3")], h.Items());
        Assert.Throws<ArgumentException>(() => h.Insert(0, ("X-D", "a\r\nInjected: 1")));
        Assert.Throws<ArgumentException>(() => h[0] = ("Bad Name", "v"));
        Assert.Equal([("X-B", "2"), ("X-C", "3")], h.Items());
    }

    [Fact]
    public void ANonAsciiParameter_EncodesItsPercentSign_Too()
    {
        var h = new ResponseHeaders();
        h.AddHeader("Content-Disposition", "attachment", ("filename", "50%é.txt"));

        Assert.Equal("attachment; filename*=UTF-8''50%25%C3%A9.txt", h["Content-Disposition"]);
    }

    [Fact]
    public void ANonAsciiParameter_KeepsTheCharactersRfc8187Allows()
    {
        var h = new ResponseHeaders();
        h.AddHeader("Content-Disposition", "attachment", ("filename", "a!#$&+^`|~ b\u00e9.txt"));

        Assert.Equal("attachment; filename*=UTF-8''a!#$&+^`|~%20b%C3%A9.txt", h["Content-Disposition"]);
    }

    [Fact]
    public void SettingANullValue_IsRefused_AndLeavesTheHeaderAsItWas()
    {
        var h = new ResponseHeaders([("X-A", "1")]);

        Assert.Throws<ArgumentNullException>(() => h["X-A"] = null!);

        Assert.Equal("1", h["X-A"]);
    }

    [Fact]
    public void Items_IsACopy()
    {
        var h = new ResponseHeaders([("x", "y")]);
        var items = h.Items();
        h.Add(("z", "w"));
        Assert.Single(items);
    }

    [Fact]
    public void SetReplacesEveryValueAndMovesItLast_RemoveDropsAll()
    {
        var h = new ResponseHeaders([("Set-Cookie", "a=1"), ("X-A", "1"), ("set-cookie", "b=2")]);
        Assert.Equal(["a=1", "b=2"], h.GetAll("SET-COOKIE"));

        h["Set-Cookie"] = "c=3";
        Assert.Equal([("X-A", "1"), ("Set-Cookie", "c=3")], h.Items());

        Assert.Equal(1, h.Remove("set-cookie"));
        Assert.Equal([("X-A", "1")], h.Items());
    }

    [Fact]
    public void AddHeader_FormatsParameters()
    {
        var h = new ResponseHeaders();
        Assert.Equal("\r\n", h.ToString());

        h.AddHeader("foo", "bar", ("baz", "spam"));
        Assert.Equal("bar; baz=\"spam\"", h["foo"]);
        Assert.Equal("foo: bar; baz=\"spam\"\r\n\r\n", h.ToString());

        h.AddHeader("Foo", "bar", ("cheese", null));
        Assert.Equal(["bar; baz=\"spam\"", "bar; cheese"], h.GetAll("foo"));
        Assert.Equal("foo: bar; baz=\"spam\"\r\nFoo: bar; cheese\r\n\r\n", h.ToString());
    }

    [Theory]
    [InlineData("bud.gif", "attachment; filename=\"bud.gif\"")]
    [InlineData("my \"best\" file.txt", "attachment; filename=\"my \\\"best\\\" file.txt\"")]
    [InlineData("back\\slash.txt", "attachment; filename=\"back\\\\slash.txt\"")]
    [InlineData("naïve 100%.txt", "attachment; filename*=UTF-8''na%C3%AFve%20100%25.txt")]
    public void AddHeader_QuotesAContentDispositionFilename(string filename, string expected)
    {
        var h = new ResponseHeaders();
        h.AddHeader("Content-Disposition", "attachment", ("filename", filename));
        Assert.Equal(expected, h["content-disposition"]);
    }

    [Fact]
    public void AddHeader_TurnsUnderscoresInParameterNamesIntoDashes()
    {
        var h = new ResponseHeaders();
        h.AddHeader("X-Thing", null, ("max_age", "5"));
        Assert.Equal("max-age=\"5\"", h["x-thing"]);
    }

    [Theory]
    [InlineData("X-Bad", "a\r\nb")]
    [InlineData("X Bad", "a")]
    [InlineData("", "a")]
    public void RefusesHeadersThatWouldInjectOrBreakTheWireFormat(string name, string value)
    {
        var h = new ResponseHeaders();
        Assert.Throws<ArgumentException>(() => h.Add((name, value)));
        Assert.Throws<ArgumentException>(() => h[name.Length == 0 ? "x" : name] = name.Length == 0 ? "\n" : value);
    }

    [Fact]
    public void WorksAsTheHeadersArgumentOfStartResponse()
    {
        var state = Responses.Detached();
        var h = new ResponseHeaders();
        h["Content-Type"] = "text/plain";
        h.AddHeader("Content-Disposition", "inline", ("filename", "a.txt"));

        state.StartResponse("200 OK", h);

        Assert.Equal([("Content-Type", "text/plain"), ("Content-Disposition", "inline; filename=\"a.txt\"")], state.Headers);
    }
}
