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
}
