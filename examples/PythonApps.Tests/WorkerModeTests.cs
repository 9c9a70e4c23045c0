using System.Net;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Mvc.Testing;

namespace PythonApps.Tests;

/// <summary>
/// The same apps in worker processes, through WebApplicationFactory: what a team checks before moving its gunicorn
/// deployment over. One worker, because the Flask to-dos live in the worker's memory, as they did under gunicorn.
/// </summary>
public sealed class WorkerModeTests : IDisposable
{
    private readonly WebApplicationFactory<Program> _factory = new WebApplicationFactory<Program>()
        .WithWebHostBuilder(builder => builder.UseSetting("PythonWorkers", "1"));

    [Fact]
    public async Task TheFlaskApp_KeepsItsBehaviour_InAWorkerProcess()
    {
        using var client = _factory.CreateClient();

        Assert.Equal("Flask to-dos: /flask/todos", await client.GetStringAsync("/flask/"));
        using var created = await client.PostAsync("/flask/todos", new FormUrlEncodedContent([new("title", "in a worker")]));
        Assert.Equal(HttpStatusCode.Created, created.StatusCode);
        Assert.Contains("in a worker", await client.GetStringAsync(created.Headers.Location), StringComparison.Ordinal);
    }

    [Fact]
    public async Task TheHealthCheck_SeesEveryAppsWorker()
    {
        using var client = _factory.CreateClient();

        Assert.Equal("Healthy", await client.GetStringAsync("/healthz"));
        Assert.Equal(HttpStatusCode.OK, (await client.GetAsync("/pyramid/")).StatusCode);
    }

    public void Dispose() => _factory.Dispose();
}
