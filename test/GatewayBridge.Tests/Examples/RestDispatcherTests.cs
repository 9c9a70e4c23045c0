extern alias RestDispatcher;

using System.Net;
using System.Xml.Linq;
using Microsoft.AspNetCore.Mvc.Testing;

namespace GatewayBridge.Tests.Examples;

public class RestDispatcherTests(WebApplicationFactory<RestDispatcher::Program> factory) : IClassFixture<WebApplicationFactory<RestDispatcher::Program>>
{
    [Fact]
    public async Task GetHello_GreetsTheNameFromTheQuery()
    {
        var response = await factory.CreateClient().GetAsync("/hello?name=Guido");

        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        Assert.Equal("text/html", response.Content.Headers.ContentType?.MediaType);
        Assert.Contains("Hello Guido", await response.Content.ReadAsStringAsync(), StringComparison.Ordinal);
    }

    [Fact]
    public async Task PostHello_GreetsTheNameFromTheForm()
    {
        var response = await factory.CreateClient().PostAsync("/hello", new FormUrlEncodedContent([new("name", "Ada Lovelace")]));

        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        Assert.Contains("Hello Ada Lovelace", await response.Content.ReadAsStringAsync(), StringComparison.Ordinal);
    }

    [Fact]
    public async Task Hello_EncodesTheName()
    {
        var body = await factory.CreateClient().GetStringAsync("/hello?name=%3Cscript%3E");
        Assert.Contains("Hello &lt;script&gt;", body, StringComparison.Ordinal);
        Assert.DoesNotContain("<script>", body, StringComparison.Ordinal);
    }

    [Fact]
    public async Task LocalTime_IsAnXmlDocumentOfTheCurrentTime()
    {
        var before = DateTime.Now.AddSeconds(-1);
        var response = await factory.CreateClient().GetAsync("/localtime");

        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        Assert.Equal("application/xml", response.Content.Headers.ContentType?.MediaType);
        var time = XDocument.Parse(await response.Content.ReadAsStringAsync()).Root!;
        var parsed = new DateTime(
            (int)time.Element("year")!, (int)time.Element("month")!, (int)time.Element("day")!,
            (int)time.Element("hour")!, (int)time.Element("minute")!, (int)time.Element("second")!, DateTimeKind.Local);
        Assert.InRange(parsed, before.AddSeconds(-1), DateTime.Now.AddSeconds(1));
    }

    [Theory]
    [InlineData("GET", "/other")]
    [InlineData("DELETE", "/hello")]
    public async Task AnythingElse_IsNotFoundAsText(string method, string path)
    {
        var response = await factory.CreateClient().SendAsync(new HttpRequestMessage(new HttpMethod(method), path));

        Assert.Equal(HttpStatusCode.NotFound, response.StatusCode);
        Assert.Equal("text/plain", response.Content.Headers.ContentType?.MediaType);
        Assert.Equal("Not Found", await response.Content.ReadAsStringAsync());
    }

    [Fact]
    public async Task MalformedForm_IsABadRequest()
    {
        var response = await factory.CreateClient().PostAsync("/hello", new StringContent("name=%zz", null, "application/x-www-form-urlencoded"));
        Assert.Equal(HttpStatusCode.BadRequest, response.StatusCode);
    }
}
