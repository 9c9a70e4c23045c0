using GatewayBridge.Python.Tests.Infrastructure;

namespace GatewayBridge.Python.Tests;

public class SmokeTests
{
    [Fact]
    public async Task BareApp_AnswersOnKestrel()
    {
        await using var host = await PythonTestHost.StartAsync("wsgi_apps:hello", kestrel: true);
        var body = await host.Client.GetStringAsync("/world");
        Assert.Equal("Hello, /world!", body);
    }

    [Fact]
    public async Task FlaskApp_Answers()
    {
        await using var host = await PythonTestHost.StartAsync("flaskapp:app", kestrel: true);
        Assert.Equal("Hello from Flask!", await host.Client.GetStringAsync("/"));
        Assert.Contains("\"name\":\"user7\"", (await host.Client.GetStringAsync("/users/7")).Replace(" ", "", StringComparison.Ordinal), StringComparison.Ordinal);
    }

    [Fact]
    public async Task FlaskReadingAJsonBody_PassesWsgirefValidate()
    {
        // Werkzeug reads the body with read() and no size, which PEP 3333 allows and PEP 333's checker did not.
        await using var host = await PythonTestHost.StartAsync("flaskapp:app", kestrel: true, validate: true);
        var response = await host.Client.PostAsync("/echo", new StringContent("{\"a\": 1}", System.Text.Encoding.UTF8, "application/json"));

        Assert.Equal(System.Net.HttpStatusCode.OK, response.StatusCode);
        Assert.Contains("\"length\":8", (await response.Content.ReadAsStringAsync()).Replace(" ", "", StringComparison.Ordinal), StringComparison.Ordinal);
    }
}
