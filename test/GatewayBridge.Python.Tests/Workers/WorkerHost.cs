using GatewayBridge.Python.Tests.Infrastructure;
using Microsoft.AspNetCore.Builder;
using Microsoft.Extensions.DependencyInjection;

namespace GatewayBridge.Python.Tests.Workers;

/// <summary>Hosts whose Python apps run in worker processes, on real Kestrel sockets.</summary>
public static class WorkerHost
{
    /// <summary>Serves <paramref name="appSpec"/> in <paramref name="workers"/> worker processes, with a native /native beside it.</summary>
    public static Task<TestHost> StartAsync(string appSpec = "worker_apps:router", int workers = 1, Action<PythonOptions>? python = null, Action<GatewayOptions>? options = null, Action<WebApplication>? before = null) =>
        PythonTestHost.StartAsync(
            app =>
            {
                before?.Invoke(app);
                app.MapGet("/native", () => "native");
                app.UsePythonWsgiApp(appSpec, o =>
                {
                    o.UseValidator = false;
                    options?.Invoke(o);
                });
            },
            kestrel: true,
            python: o =>
            {
                o.Workers = workers;
                python?.Invoke(o);
            });

    internal static PythonWorkers PythonWorkers(this TestHost host) => host.App.Services.GetRequiredService<PythonWorkers>();

    /// <summary>The supervisor of the host's only app.</summary>
    internal static WorkerSupervisor Supervisor(this TestHost host) => host.PythonWorkers().Supervisors.Single();

    /// <summary>The pids of the serving workers of the host's only app.</summary>
    internal static HashSet<int> Pids(this TestHost host) =>
        host.Supervisor().Workers.Where(w => w.Life.State == WorkerState.Serving && !w.Exited.IsCompleted).Select(w => w.Pid).ToHashSet();

    public static async Task<int> GetPidAsync(this TestHost host) =>
        int.Parse(await host.Client.GetStringAsync("/pid"), System.Globalization.CultureInfo.InvariantCulture);

    /// <summary>A file name in the temp folder that no other test uses.</summary>
    public static string TempPath(string what) => Path.Combine(Path.GetTempPath(), $"gatewaybridge-test-{what}-{Guid.NewGuid():N}");
}
