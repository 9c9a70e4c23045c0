using System.Diagnostics;
using System.Globalization;
using System.Net.Sockets;
using System.Security.Cryptography;
using GatewayBridge;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.Logging;

namespace GatewayBridge.Benchmarks;

/// <summary>
/// Isolation under load, measured from a separate client process (so a starved server cannot slow the measuring):
/// native-endpoint latency while 64 gateway requests block for 1 s each, with every call inline (a straightforward
/// bridge) and with the default worker pool; then 50 uploads at 1 byte/s; then 40 concurrent 900 KB uploads.
/// </summary>
internal static class IsolationBenchmark
{
    private const int BlockingClients = 64;

    public static async Task RunServerAsync(string mode, int port)
    {
        var builder = WebApplication.CreateSlimBuilder(new WebApplicationOptions { EnvironmentName = "Production" });
        builder.Logging.ClearProviders();
        builder.WebHost.UseUrls($"http://127.0.0.1:{port}");
        builder.WebHost.ConfigureKestrel(k => k.Limits.MaxRequestBodySize = 2 * 1024 * 1024);
        var app = builder.Build();
        app.MapGet("/native", () => "ok");
        app.UseGatewayApp(
            (environ, startResponse) =>
            {
                startResponse("200 OK", [("Content-Type", "text/plain")]);
                if ((string)environ[Environ.PathInfo]! == "/upload")
                {
                    // A hash, not an echo: the response stays small and the body is read in full.
                    return [SHA256.HashData((Stream)environ[Environ.Input]!)];
                }

                Thread.Sleep(1000);
                return [[(byte)'k']];
            },
            options =>
            {
                if (mode == "inline")
                {
                    options.MaxInlineCalls = int.MaxValue;
                }
                else if (mode.StartsWith("pooled:", StringComparison.Ordinal))
                {
                    options.MaxInlineCalls = int.Parse(mode["pooled:".Length..], CultureInfo.InvariantCulture);
                }
            });
        await app.RunAsync();
    }

    public static async Task RunAsync()
    {
        Console.WriteLine($"{"scenario",-44} {"native median",14} {"native p95",11} {"gateway req",12}");
        var modes = Environment.GetEnvironmentVariable("ISOLATION_MODES")?.Split(',') ?? ["inline", "pooled"];
        foreach (var mode in modes)
        {
            using var server = StartServer(mode, 5201);
            using var client = Client(server.Port);
            var (median, p95, completed) = await BlockingLoadAsync(client);
            Console.WriteLine($"{$"64 blocking gateway calls, {mode}",-44} {median,11:F1} ms {p95,8:F1} ms {completed,12}");
        }

        using (var server = StartServer("pooled", 5202))
        using (var client = Client(server.Port))
        {
            var (median, p95) = await SlowUploadsAsync(client, server.Port);
            Console.WriteLine($"{"50 uploads at 1 byte/s, pooled",-44} {median,11:F1} ms {p95,8:F1} ms {0,12}");

            var (intact, growthMb, totalMb) = await BigUploadsAsync(client, server.Process);
            Console.WriteLine($"40 x 900 KB uploads: {intact}/40 intact; server RSS grew {growthMb:F1} MB for {totalMb:F1} MB of bodies");
        }
    }

    private static HttpClient Client(int port) =>
        new(new SocketsHttpHandler { MaxConnectionsPerServer = 1000 }) { BaseAddress = new Uri($"http://127.0.0.1:{port}"), Timeout = TimeSpan.FromSeconds(60) };

    private static async Task<(double Median, double P95, int Completed)> BlockingLoadAsync(HttpClient client)
    {
        using var stop = new CancellationTokenSource(TimeSpan.FromSeconds(6));
        var completed = 0;
        var load = Enumerable.Range(0, BlockingClients).Select(async _ =>
        {
            while (!stop.IsCancellationRequested)
            {
                try
                {
                    await client.GetStringAsync("/block", CancellationToken.None);
                    Interlocked.Increment(ref completed);
                }
                catch (HttpRequestException)
                {
                }
            }
        }).ToList();

        await Task.Delay(1000);
        var latencies = await SampleNativeAsync(client, TimeSpan.FromSeconds(4));
        await Task.WhenAll(load);
        return (Percentile(latencies, 0.5), Percentile(latencies, 0.95), completed);
    }

    private static async Task<(double Median, double P95)> SlowUploadsAsync(HttpClient client, int port)
    {
        var sockets = new List<Socket>();
        for (var i = 0; i < 50; i++)
        {
            var socket = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
            await socket.ConnectAsync("127.0.0.1", port);
            await socket.SendAsync("POST /upload HTTP/1.1\r\nHost: t\r\nContent-Length: 100\r\n\r\n"u8.ToArray());
            sockets.Add(socket);
        }

        using var trickle = new CancellationTokenSource();
        var dripping = Task.Run(async () =>
        {
            while (!trickle.IsCancellationRequested)
            {
                foreach (var socket in sockets)
                {
                    try
                    {
                        await socket.SendAsync("x"u8.ToArray());
                    }
                    catch (SocketException)
                    {
                    }
                }

                await Task.Delay(1000);
            }
        });

        var latencies = await SampleNativeAsync(client, TimeSpan.FromSeconds(5));
        await trickle.CancelAsync();
        await dripping;
        sockets.ForEach(s => s.Dispose());
        return (Percentile(latencies, 0.5), Percentile(latencies, 0.95));
    }

    private static async Task<(int Intact, double GrowthMb, double TotalMb)> BigUploadsAsync(HttpClient client, Process server)
    {
        server.Refresh();
        var before = server.WorkingSet64;
        var peak = before;
        using var sampling = new CancellationTokenSource();
        var sampler = Task.Run(async () =>
        {
            while (!sampling.IsCancellationRequested)
            {
                server.Refresh();
                peak = Math.Max(peak, server.WorkingSet64);
                await Task.Delay(10);
            }
        });

        var bodies = Enumerable.Range(0, 40).Select(i =>
        {
            var body = new byte[900 * 1024];
            new Random(i).NextBytes(body);
            return body;
        }).ToList();
        var results = await Task.WhenAll(bodies.Select(async body =>
        {
            var response = await client.PostAsync("/upload", new ByteArrayContent(body));
            return (await response.Content.ReadAsByteArrayAsync()).AsSpan().SequenceEqual(SHA256.HashData(body));
        }));
        await sampling.CancelAsync();
        await sampler;
        return (results.Count(r => r), (peak - before) / 1048576.0, bodies.Sum(b => b.Length) / 1048576.0);
    }

    private static async Task<List<double>> SampleNativeAsync(HttpClient client, TimeSpan duration)
    {
        var latencies = new List<double>();
        var end = Stopwatch.GetTimestamp() + (long)(duration.TotalSeconds * Stopwatch.Frequency);
        while (Stopwatch.GetTimestamp() < end)
        {
            var start = Stopwatch.GetTimestamp();
            await client.GetStringAsync("/native");
            latencies.Add(Stopwatch.GetElapsedTime(start).TotalMilliseconds);
            await Task.Delay(20);
        }

        return latencies;
    }

    private static double Percentile(List<double> values, double p)
    {
        var sorted = values.Order().ToList();
        return sorted.Count == 0 ? double.NaN : sorted[Math.Min(sorted.Count - 1, (int)(p * sorted.Count))];
    }

    private static ServerProcess StartServer(string mode, int port) => new(mode, port);

    private sealed class ServerProcess : IDisposable
    {
        public ServerProcess(string mode, int port)
        {
            Port = port;
            var start = new ProcessStartInfo(Environment.ProcessPath!, ["isolation-server", mode, port.ToString(CultureInfo.InvariantCulture)]);

            // The server runs with ASP.NET Core's default GC (Server GC with DATAS), as a production host would; the
            // project turns DATAS off only so load.sh can count allocations exactly.
            start.Environment["DOTNET_GCDynamicAdaptationMode"] = "1";
            Process = Process.Start(start)!;
            using var probe = new HttpClient();
            for (var i = 0; i < 100; i++)
            {
                try
                {
                    probe.GetStringAsync($"http://127.0.0.1:{port}/native").GetAwaiter().GetResult();
                    return;
                }
                catch (HttpRequestException)
                {
                    Thread.Sleep(100);
                }
            }

            throw new InvalidOperationException("The isolation server did not start.");
        }

        public int Port { get; }

        public Process Process { get; }

        public void Dispose()
        {
            Process.Kill();
            Process.WaitForExit();
            Process.Dispose();
        }
    }
}
