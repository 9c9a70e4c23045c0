using GatewayBridge.Python.Tests.Infrastructure;
using Microsoft.Extensions.Logging;

namespace GatewayBridge.Python.Tests.Embedded;

/// <summary>What a Python app logs, prints or writes to wsgi.errors reaches the host's ILogger.</summary>
public class PythonLoggingTests
{
    [Fact]
    public async Task LoggingRecordsPrintStderrAndWsgiErrors_AllReachILogger()
    {
        await using var host = await PythonTestHost.StartAsync("wsgi_apps:logs");
        Assert.Equal("logged", await host.Client.GetStringAsync("/"));
        var entries = host.Logs.Entries;

        Assert.Contains(entries, e => e is { Category: "wsgi_apps.logs", Level: LogLevel.Information, Message: "info from python args" });
        Assert.Contains(entries, e => e is { Category: "wsgi_apps.logs", Level: LogLevel.Warning, Message: "warning from python" });
        var failure = Assert.Single(entries, e => e.Category == "wsgi_apps.logs" && e.Level == LogLevel.Error);
        Assert.Equal("with traceback", failure.Message);
        Assert.Contains("ValueError: logged failure", Assert.IsType<PythonAppException>(failure.Exception).ToString(), StringComparison.Ordinal);

        Assert.Contains(entries, e => e is { Category: "GatewayBridge.Python.Stdout", Level: LogLevel.Information, Message: "printed line" });
        Assert.Contains(entries, e => e is { Category: "GatewayBridge.Python.Stderr", Level: LogLevel.Warning, Message: "to stderr" });

        // wsgi.errors: one event per line, and the unterminated rest when the request ends.
        var errors = entries.Where(e => e.Category == "GatewayBridge.Errors").Select(e => e.Message).ToList();
        Assert.Equal(["errors line 1", "errors line 2", "unterminated"], errors);
        Assert.All(entries.Where(e => e.Category == "GatewayBridge.Errors"), e => Assert.Equal(LogLevel.Warning, e.Level));
    }

    [Fact]
    public async Task AnAppThreadLoggingAfterItsHostStopped_IsNeverBrokenByIt()
    {
        var name = Guid.NewGuid().ToString("N");
        await using (var first = await PythonTestHost.StartAsync("wsgi_apps:router", validate: false))
        {
            Assert.Equal("started", await first.Client.GetStringAsync($"/log_later?name={name}"));
        }

        await using var second = await PythonTestHost.StartAsync("wsgi_apps:router", validate: false);
        PythonTestHost.RunPython($"import wsgi_apps; wsgi_apps._event('{name}').set()");
        var result = await Eventually.ReturnsAsync(() => second.Client.GetStringAsync($"/result?name={name}"), r => r != "<none>", "the app's thread's result");

        Assert.Equal("ok", result);
    }

    [Fact]
    public void ALineForAHostWhoseLoggingIsDisposed_IsDropped_NeverThrownIntoTheApp()
    {
        // A worker thread of a host being torn down, or an app thread racing it: the host's logger factory is gone.
        var loggers = LoggerFactory.Create(_ => { });
        loggers.Dispose();
        var sink = new PythonHostSink();
        Exception? thrown = null;
        var thread = new Thread(() =>
        {
            PythonHostSink.EnterHostThread(loggers);
            try
            {
                sink.Stdout("line");
                sink.Stderr("line");
                sink.ErrorsLine("line");
                sink.Log("app", 40, "message", null);
            }
            catch (Exception ex)
            {
                thrown = ex;
            }
        });
        thread.Start();
        thread.Join();

        Assert.Null(thrown);
    }
}
