using System.Diagnostics;
using System.Text.Json;
using GatewayBridge.Python.Tests.Infrastructure;
using Microsoft.AspNetCore.Builder;

namespace GatewayBridge.Python.Tests.Hosting;

/// <summary>
/// The process around a Python app, in both modes, is the one gunicorn gives it: real standard streams whose lines
/// are logged, stdin at its end; libraries that touch them at import (Mercurial, click, rich) load and work.
/// </summary>
public class ProcessEnvironmentTests
{
    public static TheoryData<int> Modes => new() { 0, 1 };

    private static Task<TestHost> StartAsync(int workers, string appSpec) =>
        PythonTestHost.StartAsync(app => app.UsePythonWsgiApp(appSpec, o => o.UseValidator = false), kestrel: true, python: o => o.Workers = workers);

    [Theory]
    [MemberData(nameof(Modes))]
    public async Task ClickAndRich_Import_AndWhatTheyPrint_IsLogged(int workers)
    {
        await using var host = await StartAsync(workers, "tools_apps:click_and_rich");

        using var report = JsonDocument.Parse(await host.Client.GetStringAsync("/"));

        Assert.Equal("TextIOWrapper", report.RootElement.GetProperty("stdout").GetString());
        // BufferedWriter, or FileIO in a worker started where PYTHONUNBUFFERED is set (as under some test runners).
        Assert.Contains(report.RootElement.GetProperty("buffer").GetString(), new[] { "BufferedWriter", "FileIO" });
        Assert.True(report.RootElement.GetProperty("fileno").GetInt32() >= 0);
        Assert.Equal("", report.RootElement.GetProperty("stdin").GetString());
        Assert.False(report.RootElement.GetProperty("atty").GetBoolean());
        await host.Logs.WaitForAsync(e => e.Category == "GatewayBridge.Python.Stdout" && e.Message.EndsWith("said by click", StringComparison.Ordinal));
        await host.Logs.WaitForAsync(e => e.Category == "GatewayBridge.Python.Stderr" && e.Message.EndsWith("said by rich", StringComparison.Ordinal));
    }

    [Theory]
    [MemberData(nameof(Modes))]
    public async Task MercurialsHgweb_Imports_AndServesARepository(int workers)
    {
        using var folder = new TempFolder();
        var init = Process.Start(new ProcessStartInfo("hg", ["init", folder.Path]) { RedirectStandardOutput = true })!;
        await init.WaitForExitAsync();
        Assert.Equal(0, init.ExitCode);
        await using var host = await StartAsync(workers, $"tools_apps:hgweb('{folder.Path}')");

        var summary = await host.Client.GetStringAsync("/?style=raw");
        var page = await host.Client.GetStringAsync("/");

        Assert.Contains("<html", page, StringComparison.OrdinalIgnoreCase);
        Assert.NotNull(summary);
    }
}
