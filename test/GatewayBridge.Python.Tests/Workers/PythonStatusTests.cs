using System.Net.Http.Headers;
using System.Text.Json;
using GatewayBridge.Python.Tests.Infrastructure;
using Microsoft.AspNetCore.Builder;
using static GatewayBridge.Python.Tests.Workers.WorkerHost;

namespace GatewayBridge.Python.Tests.Workers;

/// <summary><c>MapPythonStatus</c>: each worker as uWSGI's stats server and mod_status show it, and nothing of a request but its path.</summary>
public class PythonStatusTests
{
    [Fact]
    public async Task TheJson_ShowsEachWorker_AndTheRequestItRuns_ByItsPathOnly()
    {
        var release = TempPath("release");
        await using var host = await StartAsync(workers: 2, before: app => app.MapPythonStatus("/_status"));
        var held = host.Client.GetStringAsync($"/wait_for_file?path={Uri.EscapeDataString(release)}&token=secret123");
        await Eventually.HoldsAsync(() => host.Supervisor().Workers.Any(w => w.OpenCalls == 1), "a worker busy");
        var busy = host.Supervisor().Workers.Single(w => w.OpenCalls == 1).Pid;

        var text = await host.Client.GetStringAsync("/_status");
        using var status = JsonDocument.Parse(text);

        var app = status.RootElement.GetProperty("apps").EnumerateArray().Single();
        Assert.Equal("worker_apps:router", app.GetProperty("app").GetString());
        Assert.Equal("wsgi", app.GetProperty("interface").GetString());
        Assert.Equal("workers", app.GetProperty("mode").GetString());
        var workers = app.GetProperty("workers").EnumerateArray().ToList();
        Assert.Equal(host.Pids().Order(), workers.Select(w => w.GetProperty("pid").GetInt32()).Order());
        Assert.All(workers, w => Assert.Equal("serving", w.GetProperty("state").GetString()));
        var current = workers.Single(w => w.GetProperty("pid").GetInt32() == busy).GetProperty("current");
        Assert.Equal("/wait_for_file", current.GetProperty("path").GetString());
        Assert.InRange(current.GetProperty("seconds").GetDouble(), 0, 60);
        Assert.All(workers, w => Assert.True(w.GetProperty("memory").GetProperty("uss").GetInt64() > 0 && w.GetProperty("memory").GetProperty("rss").GetInt64() >= w.GetProperty("memory").GetProperty("pss").GetInt64()));
        Assert.DoesNotContain("secret123", text, StringComparison.Ordinal);
        Assert.DoesNotContain("token", text, StringComparison.Ordinal);

        await File.WriteAllTextAsync(release, "");
        await held;
        File.Delete(release);
    }

    [Fact]
    public async Task TheJson_CountsRequestsServed_InFlight_Queued_AndRestartsByReason()
    {
        var release = TempPath("release");
        await using var host = await StartAsync(python: o => o.MaxRequests = 3, before: app => app.MapPythonStatus("/_status"));
        var first = await host.GetPidAsync();
        var held = host.Client.GetStringAsync($"/wait_for_file?path={Uri.EscapeDataString(release)}");
        await Eventually.HoldsAsync(() => host.Supervisor().Workers.Single().OpenCalls == 1, "the worker's thread held");
        var ahead = host.Client.GetStringAsync("/pid");
        await Eventually.HoldsAsync(() => host.Supervisor().Workers.Single().OpenCalls == 2, "a request sent ahead");

        using (var status = JsonDocument.Parse(await host.Client.GetStringAsync("/_status")))
        {
            var app = status.RootElement.GetProperty("apps")[0];
            var worker = app.GetProperty("workers").EnumerateArray().Single();
            Assert.Equal(first, worker.GetProperty("pid").GetInt32());
            Assert.Equal(1, worker.GetProperty("requests").GetInt32());
            Assert.Equal(2, worker.GetProperty("in_flight").GetInt32());
            Assert.Equal(1, app.GetProperty("queued").GetInt32());
            Assert.Empty(app.GetProperty("restarts").EnumerateObject());
        }

        await File.WriteAllTextAsync(release, "");
        await held;
        await ahead;
        File.Delete(release);

        // Its third request was its last: MaxRequests replaces it, and the restart is counted by its reason.
        await Eventually.ReturnsAsync(
            async () =>
            {
                using var status = JsonDocument.Parse(await host.Client.GetStringAsync("/_status"));
                var app = status.RootElement.GetProperty("apps")[0];
                return (Restarts: app.GetProperty("restarts").TryGetProperty("max_requests", out var count) ? count.GetInt32() : 0,
                    Pids: app.GetProperty("workers").EnumerateArray().Where(w => w.GetProperty("state").GetString() == "serving").Select(w => w.GetProperty("pid").GetInt32()).ToList());
            },
            s => s.Restarts == 1 && s.Pids.Count == 1 && s.Pids[0] != first,
            "the worker replaced after MaxRequests, counted as such");
    }

    [Fact]
    public async Task ABrowser_GetsAPlainHtmlTable()
    {
        await using var host = await StartAsync(before: app => app.MapPythonStatus("/_status"));
        var pid = await host.GetPidAsync();
        using var request = new HttpRequestMessage(HttpMethod.Get, "/_status");
        request.Headers.Accept.Add(new MediaTypeWithQualityHeaderValue("text/html"));

        using var response = await host.Client.SendAsync(request);
        var html = await response.Content.ReadAsStringAsync();

        Assert.Equal("text/html", response.Content.Headers.ContentType!.MediaType);
        Assert.Contains("<table>", html, StringComparison.Ordinal);
        Assert.Contains($"<td>{pid}</td>", html, StringComparison.Ordinal);
        Assert.DoesNotContain("<script", html, StringComparison.OrdinalIgnoreCase);
    }

    [Fact]
    public async Task AnAppInTheHostsInterpreter_ShowsItsPythonThreads()
    {
        await using var host = await StartAsync(workers: 0, before: app => app.MapPythonStatus("/_status"));
        await host.Client.GetStringAsync("/pid");

        using var status = JsonDocument.Parse(await host.Client.GetStringAsync("/_status"));

        var app = status.RootElement.GetProperty("apps").EnumerateArray().Single();
        Assert.Equal("in-process, Python threads", app.GetProperty("mode").GetString());
        Assert.Equal(8, app.GetProperty("threads").GetInt32());
        Assert.Empty(app.GetProperty("workers").EnumerateArray());
    }
}
