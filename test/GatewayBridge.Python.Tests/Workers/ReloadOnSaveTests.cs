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
    public async Task ASaveOfTheSameSize_WithinTheSameSecond_IsServed()
    {
        // CPython takes a cached .pyc whose source has the size and whole-second mtime it was compiled from: here one
        // left by an earlier run (PYTHONDONTWRITEBYTECODE may keep the workers from writing their own).
        using var folder = new TempFolder();
        var module = Path.Combine(folder.Path, "live_app.py");
        await File.WriteAllTextAsync(module, App("v1"));
        var saved = File.GetLastWriteTimeUtc(module);
        using (var compile = System.Diagnostics.Process.Start(PythonTestHost.Python, ["-c", "import py_compile, sys; py_compile.compile(sys.argv[1], doraise=True)", module]))
        {
            await compile.WaitForExitAsync();
            Assert.Equal(0, compile.ExitCode);
        }

        Assert.Single(Directory.GetFiles(Path.Combine(folder.Path, "__pycache__"), "live_app.*.pyc"));
        await using var host = await StartAsync("live_app:app", python: o =>
        {
            o.PythonPath.Add(folder.Path);
            o.Reload = true;
        });
        Assert.Equal("v1", await host.Client.GetStringAsync("/"));

        await File.WriteAllTextAsync(module, App("v2"));
        File.SetLastWriteTimeUtc(module, saved);

        await Eventually.ReturnsAsync(() => host.Client.GetStringAsync("/"), body => body == "v2", "the saved change served");
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

    [Fact]
    public async Task AWriteUnderAVirtualEnvironment_RightAfterASave_DoesNotTakeTheSavesPlace()
    {
        // One callback per quiet moment, naming the last change: a .venv file written after the save must not count.
        using var folder = new TempFolder();
        var changed = new TaskCompletionSource<string>(TaskCreationOptions.RunContinuationsAsynchronously);
        using var watcher = new SourceWatcher([folder.Path], [], path => { changed.TrySetResult(path); return Task.CompletedTask; },
            Microsoft.Extensions.Logging.Abstractions.NullLogger.Instance);
        Directory.CreateDirectory(Path.Combine(folder.Path, ".venv", "lib"));

        await File.WriteAllTextAsync(Path.Combine(folder.Path, "live_app.py"), App("v2"));
        await File.WriteAllTextAsync(Path.Combine(folder.Path, ".venv", "lib", "installed.py"), "X = 1\n");

        Assert.Equal(Path.Combine(folder.Path, "live_app.py"), await changed.Task.WaitAsync(TimeSpan.FromSeconds(30)));
    }

    [Theory]
    [InlineData("live_app.py", false)]
    [InlineData("pkg/views.py", false)]
    [InlineData("pkg/__pycache__/views.cpython-311.pyc", true)]
    [InlineData(".venv/lib/python3.11/site-packages/flask/app.py", true)]
    [InlineData("vendor/site-packages/x.py", true)]
    [InlineData(".git/hooks/pre-commit.py", true)]
    [InlineData("web/node_modules/x/build.py", true)]
    public void WhatIsNotTheAppsOwnCode_IsNotWatched(string relative, bool ignored) =>
        Assert.Equal(ignored, SourceWatcher.Ignored(relative));

    private static string App(string body) =>
        $"def app(environ, start_response):\n    start_response('200 OK', [('Content-Type', 'text/plain')])\n    return [b'{body}']\n";
}
