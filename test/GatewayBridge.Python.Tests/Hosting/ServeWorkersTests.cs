using System.Diagnostics;
using System.Globalization;
using System.Net;
using System.Net.Sockets;
using System.Text.RegularExpressions;
using GatewayBridge.Python.Tests.Infrastructure;
using GatewayBridge.Serve;

namespace GatewayBridge.Python.Tests.Hosting;

/// <summary>The serve tool with gunicorn's flags for worker processes, SIGHUP, and the deployment files that use them.</summary>
public partial class ServeWorkersTests
{
    [Fact]
    public void GunicornsFlags_SetTheWorkerOptions()
    {
        var parsed = ServeArguments.Parse(
            ["serve", "app:application", "--workers", "3", "--threads", "2", "--timeout", "12", "--max-requests", "100",
             "--max-requests-jitter", "10", "--max-worker-memory", "1000000", "--graceful-timeout", "7"]).Python;

        Assert.Equal(3, parsed.Workers);
        Assert.Equal(2, parsed.Threads);
        Assert.Equal(TimeSpan.FromSeconds(12), parsed.Timeout);
        Assert.Equal(100, parsed.MaxRequests);
        Assert.Equal(10, parsed.MaxRequestsJitter);
        Assert.Equal(1_000_000, parsed.MaxWorkerMemory);
        Assert.Equal(TimeSpan.FromSeconds(7), parsed.GracefulTimeout);
        Assert.Null(ServeArguments.Parse(["serve", "app:application", "--timeout", "0"]).Python.Timeout);
    }

    [Theory]
    [InlineData("--workers", "0", "at least 1")]
    [InlineData("--threads", "two", "whole number")]
    [InlineData("--max-worker-memory", "-5", "bytes above 0")]
    [InlineData("--health-path", "healthz", "starts with '/'")]
    public void ABadValue_IsRefused_NamingTheFlag(string flag, string value, string expected)
    {
        var error = Assert.Throws<ArgumentException>(() => ServeArguments.Parse(["serve", "app:application", flag, value]));

        Assert.Contains(flag, error.Message, StringComparison.Ordinal);
        Assert.Contains(expected, error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void TheDeploymentFiles_UseOnlyFlagsTheToolTakes_AndGiveWorkersTheirGrace()
    {
        var root = RepositoryFiles.Root;
        var unit = File.ReadAllText(Path.Combine(root, "deploy", "gatewaybridge.service"));
        var execStart = Regex.Match(unit.Replace("\\\n", " ", StringComparison.Ordinal), @"ExecStart=\S+ (serve[^\n]*)").Groups[1].Value;
        var systemd = ServeArguments.Parse(execStart.Split(' ', StringSplitOptions.RemoveEmptyEntries));

        var kubernetes = File.ReadAllText(Path.Combine(root, "deploy", "kubernetes.yaml"));
        var args = ArgLine().Matches(kubernetes[kubernetes.IndexOf("args:", StringComparison.Ordinal)..kubernetes.IndexOf("ports:", StringComparison.Ordinal)])
            .Select(m => m.Groups[1].Value.Trim('"')).ToArray();
        var pod = ServeArguments.Parse(args);

        Assert.True(systemd.Python.Workers > 0 && pod.Python.Workers > 0);
        var stopSeconds = int.Parse(Regex.Match(unit, @"TimeoutStopSec=(\d+)").Groups[1].Value, CultureInfo.InvariantCulture);
        var graceSeconds = int.Parse(Regex.Match(kubernetes, @"terminationGracePeriodSeconds: (\d+)").Groups[1].Value, CultureInfo.InvariantCulture);
        // The host drains its requests within its shutdown timeout (GracefulTimeout + 5 s), then gives its workers
        // GracefulTimeout more: whoever stops the host must wait for both.
        Assert.True(stopSeconds > (2 * systemd.Python.GracefulTimeout.TotalSeconds) + 5, "systemd would kill workers that are finishing");
        Assert.True(graceSeconds > (2 * pod.Python.GracefulTimeout.TotalSeconds) + 5, "Kubernetes would kill workers that are finishing");
        Assert.Contains("KillMode=mixed", unit, StringComparison.Ordinal);
        Assert.All(Regex.Matches(kubernetes, @"path: (\S+)").Select(m => m.Groups[1].Value), path => Assert.Equal(pod.HealthPath, path));
    }

    [Fact]
    public async Task Sighup_ReplacesEveryWorker_WithoutFailingARequest()
    {
        var port = FreePort();
        var serve = Path.Combine(AppContext.BaseDirectory, "GatewayBridge.Serve.dll");
        var start = new ProcessStartInfo("dotnet", [serve, "serve", "worker_apps:router", "--python", PythonTestHost.Python, "--chdir", PythonTestHost.AppsFolder,
            "--workers", "2", "--urls", $"http://127.0.0.1:{port}", "--health-path", "/healthz"])
        { RedirectStandardOutput = true, RedirectStandardError = true };
        using var tool = Process.Start(start)!;
        using var client = new HttpClient { BaseAddress = new Uri($"http://127.0.0.1:{port}"), Timeout = TimeSpan.FromSeconds(20) };
        try
        {
            await WaitUntilServingAsync(client);
            var before = await PidsAsync(client);
            using var stop = new CancellationTokenSource();
            var failures = 0;
            var load = Task.Run(async () =>
            {
                while (!stop.IsCancellationRequested)
                {
                    using var response = await client.GetAsync("/sleepy?seconds=0.01");
                    failures += response.StatusCode == HttpStatusCode.OK ? 0 : 1;
                }
            });

            Process.Start("kill", ["-HUP", tool.Id.ToString(CultureInfo.InvariantCulture)])!.WaitForExit();
            var after = await Eventually.ReturnsAsync(() => PidsAsync(client), pids => !pids.Overlaps(before), "every worker replaced");

            await stop.CancelAsync();
            await load;
            Assert.Equal(0, failures);
            Assert.False(after.Overlaps(before), "the workers were not replaced");
            Assert.Equal("Healthy", await client.GetStringAsync("/healthz"));
        }
        finally
        {
            Process.Start("kill", ["-TERM", tool.Id.ToString(CultureInfo.InvariantCulture)])!.WaitForExit();
            await tool.WaitForExitAsync().WaitAsync(TimeSpan.FromSeconds(30));
        }

        Assert.Equal(0, tool.ExitCode);
    }

    // Pids seen by a burst of requests: with two workers and a short call each, both answer.
    private static async Task<HashSet<string>> PidsAsync(HttpClient client) =>
        (await Task.WhenAll(Enumerable.Range(0, 8).Select(_ => client.GetStringAsync("/sleepy?seconds=0.02")))).ToHashSet();

    private static Task WaitUntilServingAsync(HttpClient client) =>
        Eventually.ReturnsAsync(
            async () =>
            {
                try
                {
                    using var health = await client.GetAsync("/healthz");
                    return health.IsSuccessStatusCode;
                }
                catch (HttpRequestException)
                {
                    return false;
                }
            },
            healthy => healthy,
            "the serve tool healthy");

    private static int FreePort()
    {
        using var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        return ((IPEndPoint)listener.LocalEndpoint).Port;
    }

    [GeneratedRegex(@"^\s+- (.+)$", RegexOptions.Multiline)]
    private static partial Regex ArgLine();
}
