using System.Diagnostics;
using System.Runtime.Versioning;
using GatewayBridge.Python.Tests.Infrastructure;
using GatewayBridge.Serve;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.Extensions.DependencyInjection;

namespace GatewayBridge.Python.Tests.Hosting;

/// <summary>Choosing the Python, loading apps, and stopping: what fails fails early and says why.</summary>
public class PythonStartupTests
{
    [Theory]
    [InlineData("no_such_module:app", "ModuleNotFoundError: No module named 'no_such_module'")]
    [InlineData("wsgi_apps:missing", "AttributeError: module 'wsgi_apps' has no attribute 'missing'")]
    [InlineData("wsgi_apps:not_callable", "TypeError: wsgi_apps:not_callable is a int, not a callable app")]
    [InlineData("wsgi_apps:factory(print)", "must be literals")]
    [InlineData("wsgi_apps:1 + 2", "neither a name nor a call")]
    public async Task AnAppThatCannotBeLoaded_FailsWhereItIsMounted_NamingIt(string spec, string message)
    {
        var error = await Assert.ThrowsAsync<InvalidOperationException>(() => PythonTestHost.StartAsync(spec));

        Assert.Contains($"'{spec}'", error.Message, StringComparison.Ordinal);
        Assert.Contains(message, error.Message, StringComparison.Ordinal);
        Assert.Contains(PythonTestHost.Python, error.Message, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("wsgi_apps:factory()", "Hi")]
    [InlineData("wsgi_apps:factory('Hello')", "Hello")]
    [InlineData("wsgi_apps:factory(greeting=\"Yo\")", "Yo")]
    public async Task AFactorySpec_IsCalledWithItsLiteralArguments(string spec, string expected)
    {
        await using var host = await PythonTestHost.StartAsync(spec);
        Assert.Equal(expected, await host.Client.GetStringAsync("/"));
    }

    [Fact]
    public async Task MountingWithoutAddPython_SaysWhatToCall()
    {
        var builder = WebApplication.CreateSlimBuilder();
        builder.WebHost.UseUrls("http://127.0.0.1:0");
        await using var app = builder.Build();

        var wsgi = Assert.Throws<InvalidOperationException>(() => app.UsePythonWsgiApp("wsgi_apps:hello"));
        var asgi = Assert.Throws<InvalidOperationException>(() => app.UsePythonAsgiApp("asgi_apps:router"));

        Assert.Contains("AddPython()", wsgi.Message, StringComparison.Ordinal);
        Assert.Contains("AddPython()", asgi.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task AddPythonWsgi_AndPythonWsgiOptions_TheOldNames_StillConfigureThePython()
    {
        var builder = WebApplication.CreateSlimBuilder();
        builder.WebHost.UseUrls("http://127.0.0.1:0");
#pragma warning disable CS0618 // The 0.1 names, kept one release: that they still configure the host is what is tested.
        builder.Services.AddPythonWsgi(o =>
        {
            o.Python = PythonTestHost.Python;
            o.PythonPath.Add(PythonTestHost.AppsFolder);
            o.Threads = 3;
            o.MaxRequests = 5;
        });
#pragma warning restore CS0618
        await using var app = builder.Build();

        var options = app.Services.GetRequiredService<Microsoft.Extensions.Options.IOptions<PythonOptions>>().Value;
        Assert.Equal(PythonTestHost.Python, options.Python);
        Assert.Equal([PythonTestHost.AppsFolder], options.PythonPath);
        Assert.Equal(3, options.Threads);
        Assert.Equal(5, options.MaxRequests);
    }

    [Fact]
    public async Task AnotherPython_InTheSameProcess_IsRefused_NamingBoth()
    {
        await using var running = await PythonTestHost.StartAsync("wsgi_apps:hello");
        var venv = ChildProcesses.CreateVirtualEnvironment(systemSitePackages: true);
        try
        {
            var error = await Assert.ThrowsAsync<InvalidOperationException>(() =>
                PythonTestHost.StartAsync("wsgi_apps:hello", python: o => o.Python = Path.Combine(venv, "bin", "python3")));
            Assert.Contains("already runs the Python interpreter of '/usr/bin/python3'", error.Message, StringComparison.Ordinal);
            Assert.Contains(Path.Combine(venv, "bin", "python3"), error.Message, StringComparison.Ordinal);
        }
        finally
        {
            Directory.Delete(venv, recursive: true);
        }
    }

    [Fact]
    [SupportedOSPlatform("linux")]
    public void APythonThatCannotBeFound_OrHasNoSharedLibrary_IsExplained()
    {
        var missing = Assert.Throws<InvalidOperationException>(() => PythonInstallation.Find("/nonexistent/python3", "/"));
        Assert.Contains("there is no file at /nonexistent/python3", missing.Message, StringComparison.Ordinal);

        var notOnPath = Assert.Throws<InvalidOperationException>(() => PythonInstallation.Find("no-such-python-anywhere", "/"));
        Assert.Contains("not on PATH", notOnPath.Message, StringComparison.Ordinal);

        // A python3 that reports a library folder without its libpython (a static build, or the package missing).
        var fake = Path.Combine(Path.GetTempPath(), "gatewaybridge-fake-python-" + Guid.NewGuid().ToString("N"));
        File.WriteAllText(fake, """
            #!/bin/sh
            echo '{"executable": "/fake/python3", "version": "3.11.9", "libdir": "/nonexistent", "multiarch": "", "instsoname": "libpython3.11.so.1.0", "ldlibrary": "libpython3.11.a", "base_prefix": "/nonexistent", "prefix": "/fake", "exec_prefix": "/fake", "path": []}'
            """);
        File.SetUnixFileMode(fake, UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute);
        try
        {
            var noLibrary = Assert.Throws<InvalidOperationException>(() => PythonInstallation.Find(fake, "/"));
            Assert.Contains("has no shared library to embed", noLibrary.Message, StringComparison.Ordinal);
            Assert.Contains("libpython3.11", noLibrary.Message, StringComparison.Ordinal);
        }
        finally
        {
            File.Delete(fake);
        }
    }

    [Fact]
    public async Task TheServeTool_ServesAPythonApp_AsGunicornWould()
    {
        var arguments = ServeArguments.Parse(["serve", "wsgi_apps:hello", "--python", PythonTestHost.Python, "--chdir", PythonTestHost.AppsFolder, "--urls", "http://127.0.0.1:0", "--validate"]);
        await using var web = ServeCommand.BuildPython(arguments.AppSpec!, arguments);
        await web.StartAsync();
        using var client = new HttpClient { BaseAddress = new Uri(web.Urls.Single()) };

        Assert.Equal("Hello, /there!", await client.GetStringAsync("/there"));
        await web.StopAsync();
    }

    [Fact]
    public async Task AVirtualEnvironment_WithSystemSitePackages_SeesBothItsOwnAndTheSystemsPackages()
    {
        var venv = ChildProcesses.CreateVirtualEnvironment(systemSitePackages: true);
        var sitePackages = Directory.GetDirectories(Path.Combine(venv, "lib")).Single();
        await File.WriteAllTextAsync(Path.Combine(sitePackages, "site-packages", "venv_only.py"), "NAME = 'venv-only'\n");
        Process? serve = null;
        try
        {
            (serve, var url) = await ChildProcesses.StartServeAsync("venv_app:app", "--python", Path.Combine(venv, "bin", "python3"), "--chdir", PythonTestHost.AppsFolder);
            using var client = new HttpClient { BaseAddress = url };

            Assert.Equal($"venv-only|flask|{venv}", await client.GetStringAsync("/"));
        }
        finally
        {
            serve?.Kill();
            Directory.Delete(venv, recursive: true);
        }
    }

    [Fact]
    public async Task TheProcessExits_WhenAskedTo_EvenWithAPythonThreadSpinningForever()
    {
        var (serve, url) = await ChildProcesses.StartServeAsync("busy_at_exit:app", "--python", PythonTestHost.Python, "--chdir", PythonTestHost.AppsFolder);
        try
        {
            using var client = new HttpClient { BaseAddress = url };
            Assert.Equal("spinning", await client.GetStringAsync("/"));

            ChildProcesses.Terminate(serve);

            using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(30));
            await serve.WaitForExitAsync(timeout.Token);
            Assert.Equal(0, serve.ExitCode);
        }
        finally
        {
            if (!serve.HasExited)
            {
                serve.Kill();
            }
        }
    }
}
