using GatewayBridge.Python.Tests.Infrastructure;
using static GatewayBridge.Python.Tests.Workers.WorkerHost;

namespace GatewayBridge.Python.Tests.Workers;

/// <summary>
/// <c>PythonOptions.Reload</c> (<c>--reload</c>), as <c>gunicorn --reload</c> and <c>uvicorn --reload</c>: a saved
/// change reaches the workers; a change that does not import leaves them serving, and the next good one recovers.
/// </summary>
public class ReloadOnSaveTests
{
    [Fact]
    public async Task ASavedChange_IsServed_ASyntaxError_LeavesTheOldCodeServing_AndTheNextGoodSaveRecovers()
    {
        using var folder = new TempFolder();
        var module = Path.Combine(folder.Path, "live_app.py");
        await File.WriteAllTextAsync(module, App("v1"));
        await using var host = await StartAsync("live_app:app", python: o =>
        {
            o.PythonPath.Add(folder.Path);
            o.Reload = true;
        });
        Assert.Equal("v1", await host.Client.GetStringAsync("/"));

        await File.WriteAllTextAsync(module, App("v2"));
        await Eventually.ReturnsAsync(() => host.Client.GetStringAsync("/"), body => body == "v2", "the saved change served");
        Assert.Contains(host.Logs.Entries, e => e.EventId.Name == "SourceChanged" && e.Message.Contains("live_app.py", StringComparison.Ordinal));
        var serving = host.Pids().Single();

        await File.WriteAllTextAsync(module, "def app(environ, start_response):\n    return [b'v3'\n");
        var failed = (await host.Logs.WaitForAsync(e => e.EventId.Name == "ReloadFailed"))[0];
        Assert.Contains("SyntaxError", failed.Message, StringComparison.Ordinal);
        Assert.Equal("v2", await host.Client.GetStringAsync("/"));
        Assert.Equal(serving, host.Pids().Single());

        await File.WriteAllTextAsync(module, App("v3"));
        await Eventually.ReturnsAsync(() => host.Client.GetStringAsync("/"), body => body == "v3", "the next good save served");
    }

    [Fact]
    public async Task AChangeToAFileItNames_Reloads_AndOtherFilesDoNot()
    {
        using var folder = new TempFolder();
        await File.WriteAllTextAsync(Path.Combine(folder.Path, "live_app.py"),
            "import os\nGREETING = open(os.path.join(os.path.dirname(__file__), 'greeting.txt')).read()\n" +
            "def app(environ, start_response):\n    start_response('200 OK', [('Content-Type', 'text/plain')])\n    return [GREETING.encode()]\n");
        await File.WriteAllTextAsync(Path.Combine(folder.Path, "greeting.txt"), "hello");
        await using var host = await StartAsync("live_app:app", python: o =>
        {
            o.PythonPath.Add(folder.Path);
            o.Reload = true;
            o.ReloadIncludes.Add("*.txt");
        });
        var pid = host.Pids().Single();

        await File.WriteAllTextAsync(Path.Combine(folder.Path, "notes.md"), "not watched");
        await File.WriteAllTextAsync(Path.Combine(folder.Path, "greeting.txt"), "bonjour");

        await Eventually.ReturnsAsync(() => host.Client.GetStringAsync("/"), body => body == "bonjour", "the new greeting");
        Assert.DoesNotContain(host.Logs.Entries, e => e.EventId.Name == "SourceChanged" && e.Message.Contains("notes.md", StringComparison.Ordinal));
        Assert.NotEqual(pid, host.Pids().Single());
    }

    private static string App(string body) =>
        $"def app(environ, start_response):\n    start_response('200 OK', [('Content-Type', 'text/plain')])\n    return [b'{body}']\n";
}
