using GatewayBridge.Python.Tests.Infrastructure;
using GatewayBridge.Serve;
using Microsoft.AspNetCore.Server.Kestrel.Transport.Sockets;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;

namespace GatewayBridge.Python.Tests.Hosting;

/// <summary>How <c>gatewaybridge serve</c> runs Kestrel: what a host that only serves Python can afford.</summary>
public class ServeDefaultsTests
{
    [Fact]
    public async Task APythonApp_RunsOnKestrelsOwnThreads_AndLogsNoLinesPerRequest()
    {
        var arguments = ServeArguments.Parse(["serve", "wsgi_apps:hello", "--python", PythonTestHost.Python, "--chdir", PythonTestHost.AppsFolder, "--interface", "wsgi"]);
        await using var web = ServeCommand.BuildPython("wsgi_apps:hello", arguments);

        Assert.True(web.Services.GetRequiredService<IOptions<SocketTransportOptions>>().Value.UnsafePreferInlineScheduling);
        var loggers = web.Services.GetRequiredService<ILoggerFactory>();
        Assert.False(loggers.CreateLogger("Microsoft.AspNetCore.Hosting.Diagnostics").IsEnabled(LogLevel.Information));
        Assert.True(loggers.CreateLogger("Microsoft.AspNetCore.Hosting.Diagnostics").IsEnabled(LogLevel.Warning));
        Assert.True(loggers.CreateLogger("GatewayBridge.Python.WorkerSupervisor").IsEnabled(LogLevel.Information));
    }

    [Fact]
    public async Task ADotNetApp_KeepsKestrelsThreadHops_ItsCodeMayBlock()
    {
        var arguments = ServeArguments.Parse(["serve", "App.dll", "App.Type.Method"]);
        await using var web = ServeCommand.Build((_, _) => [], arguments);

        Assert.False(web.Services.GetRequiredService<IOptions<SocketTransportOptions>>().Value.UnsafePreferInlineScheduling);
    }
}
