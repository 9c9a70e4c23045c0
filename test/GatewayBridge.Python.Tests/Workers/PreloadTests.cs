using System.Diagnostics;
using System.Globalization;
using System.Net;
using GatewayBridge.Python.Tests.Asgi;
using GatewayBridge.Python.Tests.Infrastructure;
using Microsoft.AspNetCore.Builder;
using static GatewayBridge.Python.Tests.Workers.WorkerHost;

namespace GatewayBridge.Python.Tests.Workers;

/// <summary>
/// Preloaded workers (<c>PythonOptions.Preload</c>, gunicorn's <c>--preload</c>): one template imports the app and forks
/// every worker, which then shares its pages; supervision stays whole though the host is not the workers' parent.
/// </summary>
public class PreloadTests
{
    [Fact]
    public async Task TheWorkers_AreForkedFromOneTemplate_ThatImportedTheApp_TheyShareItsPages_AndEachRanThePostForkHookOnce()
    {
        await using var host = await StartAsync(workers: 2, python: o =>
        {
            o.Preload = true;
            o.PostFork = "worker_apps:record_fork";
        });
        var template = host.Supervisor().Template!.Pid;
        var forks = Path.Combine(Path.GetTempPath(), $"gatewaybridge-forks-{template}");
        try
        {
            var workers = host.Pids();

            Assert.Equal(2, workers.Count);
            Assert.All(workers, pid => Assert.Equal(template, ParentOf(pid)));
            Assert.Equal($"{template} {template}", await host.Client.GetStringAsync("/imported_by"));
            Assert.Equal(workers.Order(), (await File.ReadAllLinesAsync(forks)).Select(l => int.Parse(l, CultureInfo.InvariantCulture)).Order());

            // Pages the template wrote before it forked stay shared: no process that imported the app itself has them.
            Assert.All(workers, pid => Assert.True(SharedDirtyKb(pid) > 1024, $"worker {pid} shares {SharedDirtyKb(pid)} kB of the template's written pages"));
        }
        finally
        {
            File.Delete(forks);
        }
    }

    [Fact]
    public async Task AWorkerThatIsNotPreloaded_SharesNoWrittenPages_AndImportedTheAppItself()
    {
        await using var host = await StartAsync(python: o => o.PostFork = "worker_apps:record_fork");
        var pid = await host.GetPidAsync();

        Assert.Null(host.Supervisor().Template);
        Assert.StartsWith($"{pid} ", await host.Client.GetStringAsync("/imported_by"), StringComparison.Ordinal);
        Assert.True(SharedDirtyKb(pid) < 1024, $"worker {pid} shares {SharedDirtyKb(pid)} kB of written pages");
        File.Delete(Path.Combine(Path.GetTempPath(), $"gatewaybridge-forks-{ParentOf(pid)}"));
    }

    [Fact]
    public async Task AForkedWorkerThatDies_IsLoggedWithTheStatusItsTemplateReports_AndForkedAgain()
    {
        await using var host = await StartAsync(workers: 2, python: o => o.Preload = true);
        var template = host.Supervisor().Template!.Pid;

        using var exited = await host.Client.GetAsync("/exit_now");
        Assert.Equal(HttpStatusCode.BadGateway, exited.StatusCode);
        Assert.Contains("status 7", (await host.Logs.WaitForAsync(e => e.EventId.Name == "WorkerExited"))[0].Message, StringComparison.Ordinal);
        var victim = host.Pids().First();
        using (var process = Process.GetProcessById(victim))
        {
            process.Kill();
        }

        await host.Logs.WaitForAsync(e => e.EventId.Name == "WorkerExited" && e.Message.Contains("SIGKILL", StringComparison.Ordinal));
        await Eventually.HoldsAsync(() => host.Pids().Count == 2 && !host.Pids().Contains(victim), "both replacements");
        Assert.All(host.Pids(), pid => Assert.Equal(template, ParentOf(pid)));
    }

    [Fact]
    public async Task ATemplateThatDies_IsReplacedAtOnce_TheWorkersServeOn_AndTheNextWorkerIsForkedFromTheNewOne()
    {
        await using var host = await StartAsync(python: o => o.Preload = true);
        var old = host.Supervisor().Template!.Pid;
        var worker = await host.GetPidAsync();

        using (var process = Process.GetProcessById(old))
        {
            process.Kill();
        }

        await host.Logs.WaitForAsync(e => e.EventId.Name == "TemplateExited");
        await Eventually.HoldsAsync(() => host.Supervisor().Template is { } t && t.Pid != old && !t.Exited.IsCompleted, "a new template");
        Assert.Equal(worker, await host.GetPidAsync());

        using var exited = await host.Client.GetAsync("/exit_now");
        await Eventually.HoldsAsync(() => host.Pids() is { Count: 1 } pids && !pids.Contains(worker), "the replacement");
        Assert.Equal(host.Supervisor().Template!.Pid, ParentOf(host.Pids().Single()));
    }

    [Fact]
    public async Task ATemplateThatExitsBeforeItConnects_FailsAtOnce_AndTheNextOneServes()
    {
        // A .pth file of a virtual environment runs before any script: it ends the interpreter while the marker exists,
        // a template that never connects, without waiting on a sleep.
        var venv = ChildProcesses.CreateVirtualEnvironment(systemSitePackages: true);
        try
        {
            var marker = Path.Combine(venv, "fail");
            var sitePackages = Directory.GetDirectories(Path.Combine(venv, "lib"), "python3*").Single() + "/site-packages";
            await File.WriteAllTextAsync(Path.Combine(sitePackages, "zz_fail.pth"), $"import os; os.path.exists({System.Text.Json.JsonSerializer.Serialize(marker)}) and os._exit(3)\n");
            await using var host = await StartAsync(python: o =>
            {
                o.Preload = true;
                o.Python = Path.Combine(venv, "bin", "python3");
            });
            var old = host.Supervisor().Template!.Pid;
            var worker = await host.GetPidAsync();

            await File.WriteAllTextAsync(marker, "");
            using (var process = Process.GetProcessById(old))
            {
                process.Kill();
            }

            var failed = (await host.Logs.WaitForAsync(e => e.EventId.Name == "TemplateStartFailed"))[0];
            Assert.Contains("exited with status 3 before it had imported the app", failed.Message, StringComparison.Ordinal);
            File.Delete(marker);
            await Eventually.HoldsAsync(() => host.Supervisor().Template is { } t && t.Pid != old && !t.Exited.IsCompleted, "a template that started");
            Assert.Equal(worker, await host.GetPidAsync());
            using var exited = await host.Client.GetAsync("/exit_now");
            await Eventually.HoldsAsync(() => host.Pids() is { Count: 1 } pids && !pids.Contains(worker), "the replacement");
            Assert.Equal(host.Supervisor().Template!.Pid, ParentOf(host.Pids().Single()));
        }
        finally
        {
            Directory.Delete(venv, recursive: true);
        }
    }

    [Fact]
    public async Task Reload_ImportsTheNewCodeInANewTemplate_ReplacesEveryWorkerFromIt_AndTheOldTemplateGoes()
    {
        await using var host = await StartAsync(workers: 2, python: o => o.Preload = true);
        var old = host.Supervisor().Template!;
        var before = host.Pids();

        await host.PythonWorkers().ReloadAsync();

        var fresh = host.Supervisor().Template!;
        Assert.NotEqual(old.Pid, fresh.Pid);
        await Eventually.HoldsAsync(() => host.Pids() is { Count: 2 } pids && !pids.Overlaps(before), "the new workers");
        Assert.All(host.Pids(), pid => Assert.Equal(fresh.Pid, ParentOf(pid)));
        Assert.Equal(0, await old.Exited.WaitAsync(TimeSpan.FromSeconds(30)));
    }

    [Fact]
    public async Task MaxRequests_RecyclesAForkedWorker_FromTheSameTemplate()
    {
        await using var host = await StartAsync(python: o =>
        {
            o.Preload = true;
            o.MaxRequests = 2;
        });
        var template = host.Supervisor().Template!.Pid;
        var first = await host.GetPidAsync();
        await host.GetPidAsync();

        await Eventually.HoldsAsync(() => host.Pids() is { Count: 1 } pids && !pids.Contains(first), "the recycled worker");

        Assert.Equal(template, ParentOf(host.Pids().Single()));
        Assert.NotEqual(first, await host.GetPidAsync());
    }

    [Fact]
    public async Task AHungCallInAForkedWorker_IsCut_ByPid()
    {
        await using var host = await StartAsync(python: o =>
        {
            o.Preload = true;
            o.Timeout = TimeSpan.FromSeconds(1);
        });
        var pid = await host.GetPidAsync();

        using var hung = await host.Client.GetAsync("/stuck_in_app_code");

        Assert.Equal(HttpStatusCode.GatewayTimeout, hung.StatusCode);
        await Eventually.HoldsAsync(() => !File.Exists($"/proc/{pid}/status") || File.ReadAllText($"/proc/{pid}/status").Contains("State:\tZ", StringComparison.Ordinal), "the killed worker gone");
        Assert.NotEqual(pid, await host.GetPidAsync());
    }

    [Fact]
    public async Task AForkedWorkersOwnStdoutAndStderr_AreLoggedUnderItsPid()
    {
        await using var host = await StartAsync(python: o => o.Preload = true);
        var pid = await host.GetPidAsync();

        await host.Client.GetStringAsync("/streams");

        await Eventually.HoldsAsync(() => host.Logs.Entries.Any(e => e.Message == $"Worker {pid}: printed to stdout"), "the printed line under the worker's pid");
        await Eventually.HoldsAsync(() => host.Logs.Entries.Any(e => e.Message == $"Worker {pid}: printed to stderr"), "the stderr line under the worker's pid");
    }

    [Fact]
    public async Task APostForkHookThatRaises_StopsTheStartup_WithItsTraceback()
    {
        var error = await Assert.ThrowsAsync<InvalidOperationException>(() => StartAsync(python: o =>
        {
            o.Preload = true;
            o.PostFork = "worker_apps:failing_fork";
        }));

        Assert.Contains("post_fork could not open its connection", error.Message, StringComparison.Ordinal);
        Assert.Contains("failing_fork", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task APostForkHookThatRaisesInAReplacement_LeavesTheOtherWorkerServing_UntilItStopsRaising()
    {
        await using var host = await StartAsync(workers: 2, python: o =>
        {
            o.Preload = true;
            o.PostFork = "worker_apps:refuse_fork_when_asked";
        });
        var refusal = Path.Combine(Path.GetTempPath(), $"gatewaybridge-refuse-fork-{host.Supervisor().Template!.Pid}");
        await File.WriteAllTextAsync(refusal, "");
        try
        {
            using var exited = await host.Client.GetAsync("/exit_now");

            var failed = (await host.Logs.WaitForAsync(e => e.EventId.Name == "WorkerStartFailed"))[0];
            Assert.Contains("the database is not reachable from this worker", failed.Message, StringComparison.Ordinal);
            var survivor = host.Pids().Single();
            Assert.Equal(survivor, await host.GetPidAsync());

            File.Delete(refusal);
            await Eventually.HoldsAsync(() => host.Pids().Count == 2, "the replacement, once the hook stops raising");
        }
        finally
        {
            File.Delete(refusal);
        }
    }

    [Fact]
    public async Task PreloadOrReload_InTheHostsInterpreter_IsRefused_SayingToUseWorkers()
    {
        var preload = await Assert.ThrowsAsync<InvalidOperationException>(() => StartAsync(workers: 0, python: o => o.Preload = true));
        var reload = await Assert.ThrowsAsync<InvalidOperationException>(() => StartAsync(workers: 0, python: o => o.Reload = true));

        Assert.Contains("PythonOptions.Preload needs worker processes", preload.Message, StringComparison.Ordinal);
        Assert.Contains("PythonOptions.Reload needs worker processes", reload.Message, StringComparison.Ordinal);
        Assert.Contains("Workers to 1 or more", reload.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task AnAsgiApp_IsPreloadedToo_ItsLifespanRunInEachWorker()
    {
        await using var host = await AsgiHost.StartAsync(2, "asgi_apps:router", python: o => o.Preload = true);
        var template = host.Supervisor().Template!.Pid;

        Assert.Equal("Hello, ASGI!", await host.Client.GetStringAsync("/hello"));
        Assert.All(host.Pids(), pid => Assert.Equal(template, ParentOf(pid)));
    }

    [Fact]
    public async Task TheTemplate_IsInAProcessGroupOfItsOwn_AsEachWorkerIs()
    {
        // Ctrl+C at the host's terminal goes to the host's group: a template in it would die before the host stops it.
        await using var host = await StartAsync(python: o => o.Preload = true);
        var template = host.Supervisor().Template!.Pid;

        Assert.Equal(template, ProcessGroupOf(template));
        Assert.Equal(host.Pids().Single(), ProcessGroupOf(host.Pids().Single()));
    }

    [Fact]
    public async Task TheStatusPage_ShowsAPreloadedApp_AndItsTemplate()
    {
        await using var host = await StartAsync(python: o => o.Preload = true, before: app => app.MapPythonStatus("/_status"));

        using var status = System.Text.Json.JsonDocument.Parse(await host.Client.GetStringAsync("/_status"));

        var app = status.RootElement.GetProperty("apps")[0];
        Assert.Equal("workers, preloaded", app.GetProperty("mode").GetString());
        Assert.Equal(host.Supervisor().Template!.Pid, app.GetProperty("template_pid").GetInt32());
    }

    // The fifth field of /proc/<pid>/stat, after the name in parentheses.
    private static int ProcessGroupOf(int pid) =>
        int.Parse(File.ReadAllText($"/proc/{pid}/stat").Split(") ")[1].Split(' ')[2], CultureInfo.InvariantCulture);

    private static int ParentOf(int pid) =>
        int.Parse(File.ReadLines($"/proc/{pid}/status").Single(l => l.StartsWith("PPid:", StringComparison.Ordinal))[5..].Trim(), CultureInfo.InvariantCulture);

    private static long SharedDirtyKb(int pid) =>
        long.Parse(File.ReadLines($"/proc/{pid}/smaps_rollup").Single(l => l.StartsWith("Shared_Dirty:", StringComparison.Ordinal)).Split(' ', StringSplitOptions.RemoveEmptyEntries)[1], CultureInfo.InvariantCulture);
}
