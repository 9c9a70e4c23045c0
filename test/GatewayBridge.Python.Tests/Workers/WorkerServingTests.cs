using System.Net;
using System.Security.Cryptography;
using System.Text.Json;
using GatewayBridge.Python.Tests.Infrastructure;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Http.Features;
using Microsoft.Extensions.DependencyInjection;
using static GatewayBridge.Python.Tests.Workers.WorkerHost;

namespace GatewayBridge.Python.Tests.Workers;

/// <summary>Python apps in worker processes: what they see, and requests and responses both ways, over real sockets.</summary>
public class WorkerServingTests
{
    [Fact]
    public async Task AnApp_RunsInAnotherProcess_WithMultiprocessTrue_AndOneThread()
    {
        await using var host = await StartAsync();

        var pid = await host.GetPidAsync();

        Assert.NotEqual(Environment.ProcessId, pid);
        Assert.Contains(pid, host.Pids());
        Assert.Equal("True False", await host.Client.GetStringAsync("/flags"));
        Assert.Equal("native", await host.Client.GetStringAsync("/native"));
    }

    [Fact]
    public async Task Threads_MakesWsgiMultithreadTrue_AndCallsOverlapInOneWorker()
    {
        await using var host = await StartAsync(python: o => o.Threads = 4);

        var calls = Enumerable.Range(0, 4).Select(_ => host.Client.GetStringAsync("/one_at_a_time")).ToList();
        await Task.WhenAll(calls);

        Assert.Equal("True True", await host.Client.GetStringAsync("/flags"));
        Assert.True(int.Parse(await host.Client.GetStringAsync("/max_active"), System.Globalization.CultureInfo.InvariantCulture) > 1);
    }

    [Fact]
    public async Task AThreadUnsafeApp_UnderTwoWorkers_NeverSeesTwoRequestsAtOnce_AndBothWorkersServe()
    {
        await using var host = await StartAsync(workers: 2);

        var pids = await Task.WhenAll(Enumerable.Range(0, 16).Select(_ => host.Client.GetStringAsync("/one_at_a_time")));

        Assert.Equal(2, pids.Distinct().Count());

        // Each worker reports its own maximum; asked until both have answered.
        var maxima = new Dictionary<string, string>();
        for (var i = 0; i < 40 && maxima.Count < 2; i++)
        {
            var both = await Task.WhenAll(host.Client.GetStringAsync("/pid"), host.Client.GetStringAsync("/max_active"));
            maxima[both[0]] = both[1];
        }

        Assert.All(maxima.Values, max => Assert.Equal("1", max));
    }

    [Fact]
    public async Task TheEnviron_IsTheOneTheHostsInterpreterGives_ButForMultiprocess()
    {
        const string target = "/caf%C3%A9/a%2Fb?q=1&r=%20";
        await using var inProcess = await PythonTestHost.StartAsync("wsgi_apps:dump", kestrel: true, validate: false);
        await using var worker = await StartAsync("wsgi_apps:dump");

        var embedded = JsonSerializer.Deserialize<Dictionary<string, string>>(await inProcess.Client.GetStringAsync(target))!;
        var separate = JsonSerializer.Deserialize<Dictionary<string, string>>(await worker.Client.GetStringAsync(target))!;

        string[] differ = ["wsgi.multiprocess", "wsgi.multithread", "SERVER_PORT", "REMOTE_PORT", "HTTP_HOST"];
        Assert.Equal(embedded.Keys.Order(), separate.Keys.Order());
        Assert.All(embedded.Keys.Except(differ), key => Assert.Equal(embedded[key], separate[key]));
        Assert.Equal("True", separate["wsgi.multiprocess"]);
        Assert.Equal("/caf\u00c3\u00a9/a/b", separate["PATH_INFO"]);
    }

    [Fact]
    public async Task A50MbUpload_IsReadFromItsSpilledFile_NeverSentThroughTheSocket()
    {
        await using var host = await PythonTestHost.StartAsync(
            app => app.UsePythonWsgiApp("wsgi_apps:input_report", o => o.UseValidator = false),
            kestrel: true,
            python: o => o.Workers = 1,
            configure: b => b.WebHost.ConfigureKestrel(k => k.Limits.MaxRequestBodySize = 64L * 1024 * 1024));
        var body = RandomNumberGenerator.GetBytes(50 * 1024 * 1024);

        using var response = await host.Client.PostAsync("/", new ByteArrayContent(body));
        using var report = JsonDocument.Parse(await response.Content.ReadAsStringAsync());

        Assert.Equal(body.Length, report.RootElement.GetProperty("size").GetInt32());
        Assert.Equal(Convert.ToHexStringLower(SHA256.HashData(body)), report.RootElement.GetProperty("sha256").GetString());
        Assert.Equal("BufferedReader", report.RootElement.GetProperty("type").GetString());
    }

    [Fact]
    public async Task ASmallBody_TravelsInTheRequestFrame()
    {
        await using var host = await StartAsync("wsgi_apps:input_report");

        using var response = await host.Client.PostAsync("/?mode=lines", new StringContent("one\ntwo\n"));

        Assert.Equal("one\ntwo\n", await response.Content.ReadAsStringAsync());
    }

    [Fact]
    public async Task AListBodyLargerThanAFrame_ArrivesWhole_WithItsContentLength()
    {
        await using var host = await StartAsync();

        using var response = await host.Client.GetAsync("/big_list?lines=100000");
        var body = await response.Content.ReadAsByteArrayAsync();

        Assert.Equal(800_000, body.Length);
        Assert.Equal(800_000, response.Content.Headers.ContentLength);
        Assert.EndsWith("0099999\n", System.Text.Encoding.ASCII.GetString(body), StringComparison.Ordinal);
    }

    [Fact]
    public async Task ADownload_IsPacedByTheClient_TheWorkerNeverFarAhead()
    {
        // 64 MB to a client that reads nothing for a while: the worker stops at its window, so the host holds a few
        // hundred kilobytes of it, not 64 MB; then every byte arrives.
        await using var host = await StartAsync();
        using var connection = host.Connect(receiveBuffer: 16 * 1024);
        await connection.SendAsync("GET /download?mb=64 HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n");
        var inFlight = await Eventually.ReturnsAsync(
            () => Task.FromResult(host.Supervisor().Workers.Single().Calls.OfType<WsgiCall>().SingleOrDefault()), call => call is not null, "the download under way");
        await Eventually.HoldsAsync(() => inFlight!.Outstanding >= WorkerProtocol.Window, "the worker at its window, the client reading nothing");

        // However long it waits, a worker waiting for the client is not running app code: no timeout can cut it.
        Assert.False(inFlight!.IsStuck(System.Diagnostics.Stopwatch.GetTimestamp() + 1, 0, started: true), "a worker waiting for credit counts as stuck");
        var reading = connection.ReadToCloseAsync(TimeSpan.FromSeconds(60));
        long held = 0;
        while (!reading.IsCompleted)
        {
            held = Math.Max(held, inFlight.Outstanding);
            await Task.WhenAny(reading, Task.Delay(5));
        }

        var received = (await reading).Text.Length;
        Assert.True(received > 64 * 1024 * 1024, $"received {received} bytes");
        Assert.InRange(held, 1, WorkerProtocol.Window + WorkerProtocol.Fragment);
    }

    [Fact]
    public async Task AClientThatLeavesMidStream_GetsTheAppClosedExactlyOnce_AndTheWorkerServesOn()
    {
        await using var host = await StartAsync();
        var name = Guid.NewGuid().ToString("N");
        using (var connection = host.Connect())
        {
            await connection.SendAsync($"GET /stream?name={name} HTTP/1.1\r\nHost: t\r\n\r\n");
            await connection.ReadAtLeastAsync(20_000, TimeSpan.FromSeconds(10));
        }

        await Eventually.ReturnsAsync(() => host.Client.GetStringAsync($"/closes?name={name}"), closes => closes != "0", "close() in the worker");

        // One worker serves one request at a time: by the time it answers the next request, the stream's request is
        // over in it, and any second close() would have run.
        Assert.Equal("1", await host.Client.GetStringAsync($"/closes?name={name}"));
    }

    [Fact]
    public async Task FileWrapper_OverARealFile_GoesOutThroughSendFile_FromTheHost()
    {
        var path = TempPath("file");
        await File.WriteAllBytesAsync(path, Enumerable.Range(0, 100_000).Select(i => (byte)i).ToArray());
        var sendFiles = 0;
        try
        {
            await using var host = await StartAsync("wsgi_apps:file_wrapper", before: app => app.Use((context, next) =>
            {
                var inner = context.Features.Get<IHttpResponseBodyFeature>()!;
                context.Features.Set<IHttpResponseBodyFeature>(new RecordingBodyFeature(inner, () => Interlocked.Increment(ref sendFiles)));
                return next(context);
            }));

            var body = await host.Client.GetByteArrayAsync($"/?path={Uri.EscapeDataString(path)}&skip=10");

            Assert.Equal((await File.ReadAllBytesAsync(path))[10..], body);
            Assert.Equal(1, sendFiles);
        }
        finally
        {
            File.Delete(path);
        }
    }

    [Fact]
    public async Task FileWrapper_OverADeletedFile_IsCopiedFromTheWorkersDescriptor_ByTheHost()
    {
        var sendFiles = 0;
        await using var host = await StartAsync("wsgi_apps:file_wrapper_deleted", before: app => app.Use((context, next) =>
        {
            var inner = context.Features.Get<IHttpResponseBodyFeature>()!;
            context.Features.Set<IHttpResponseBodyFeature>(new RecordingBodyFeature(inner, () => Interlocked.Increment(ref sendFiles)));
            return next(context);
        }));

        var first = await host.Client.GetStringAsync("/");
        var second = await host.Client.GetStringAsync("/");

        Assert.Equal(string.Concat(Enumerable.Repeat("gone but readable ", 1000)), first);
        Assert.Equal(first, second);
        Assert.Equal(0, sendFiles);
    }

    [Fact]
    public async Task TheStandardStreams_AreRealFiles_WhoseLinesAreLoggedWithThePid()
    {
        await using var host = await StartAsync();
        var pid = await host.GetPidAsync();

        using var report = JsonDocument.Parse(await host.Client.GetStringAsync("/streams"));

        Assert.Equal("TextIOWrapper", report.RootElement.GetProperty("stdout").GetString());
        // BufferedWriter, or FileIO where PYTHONUNBUFFERED is set, as it is under some test runners.
        Assert.Contains(report.RootElement.GetProperty("stdout_buffer").GetString(), new[] { "BufferedWriter", "FileIO" });
        Assert.Equal(1, report.RootElement.GetProperty("stdout_fileno").GetInt32());
        Assert.Equal(2, report.RootElement.GetProperty("stderr_fileno").GetInt32());
        Assert.Equal("", report.RootElement.GetProperty("stdin_read").GetString());
        await Eventually.HoldsAsync(() => host.Logs.Entries.Any(e => e.Message == $"Worker {pid}: printed to stdout"), "the printed line in the log");
        await Eventually.HoldsAsync(() => host.Logs.Entries.Any(e => e.Message == $"Worker {pid}: printed to stderr"), "the stderr line in the log");
    }

    [Fact]
    public async Task OsFork_WorksInAWorker()
    {
        await using var host = await StartAsync();
        var path = TempPath("fork");
        try
        {
            var answer = await host.Client.GetStringAsync($"/fork?path={Uri.EscapeDataString(path)}");

            Assert.StartsWith("forked ", answer, StringComparison.Ordinal);
            Assert.EndsWith("status 0", answer, StringComparison.Ordinal);
            Assert.EndsWith($"of {await host.GetPidAsync()}", await File.ReadAllTextAsync(path), StringComparison.Ordinal);
        }
        finally
        {
            File.Delete(path);
        }
    }

    [Theory]
    [InlineData(false)]
    [InlineData(true)] // a worker forked from a template registers the guard itself; the template's forks skip it
    public async Task AChildTheAppForks_ThatReturnsFromTheApp_IsEndedAfterItsRequest(bool preload)
    {
        await using var host = await StartAsync(python: o => o.Preload = preload);
        var worker = await host.GetPidAsync();
        var path = TempPath("fork");
        try
        {
            var answer = await host.Client.GetStringAsync($"/fork_and_return?path={Uri.EscapeDataString(path)}");

            Assert.Matches("^forked [0-9]+ status 0$", answer);
            Assert.EndsWith($"of {worker}", await File.ReadAllTextAsync(path), StringComparison.Ordinal);
            Assert.Equal(worker, await host.GetPidAsync());
        }
        finally
        {
            File.Delete(path);
        }
    }

    [Fact]
    public async Task ABodyKeptInMemory_ButLargerThanAQueueMessage_ReachesTheAppWhole_ByAFileOfItsOwn()
    {
        await using var host = await StartAsync(options: o => o.MemoryBufferThreshold = 2 * 1024 * 1024);
        var body = new byte[600 * 1024];
        Random.Shared.NextBytes(body);

        using var response = await host.Client.PostAsync("/digest", new ByteArrayContent(body));
        var fields = (await response.Content.ReadAsStringAsync()).Split(' ');

        Assert.Equal($"{body.Length}", fields[0]);
        Assert.Equal(Convert.ToHexStringLower(System.Security.Cryptography.SHA256.HashData(body)), fields[1]);
        Assert.Equal("file", fields[2]);
    }

    [Fact]
    public async Task AFastRequest_NeverWaitsBehindASlowOne_WhileAnotherWorkerIsFree()
    {
        var release = TempPath("release");
        await using var host = await StartAsync(workers: 2);
        var slow = host.Client.GetStringAsync($"/wait_for_file?path={Uri.EscapeDataString(release)}");
        await Eventually.HoldsAsync(() => host.Supervisor().Workers.Any(w => w.OpenCalls == 1), "one worker busy");
        var busy = host.Supervisor().Workers.Single(w => w.OpenCalls == 1).Pid.ToString(System.Globalization.CultureInfo.InvariantCulture);

        // Twenty at once, from the moment the slow one started: while the free worker runs one, the others are sent
        // ahead, some of them to the busy worker, from which the free one takes them back.
        var fast = Task.WhenAll(Enumerable.Range(0, 20).Select(_ => host.Client.GetStringAsync("/sleepy?seconds=0.02")));
        var others = await fast.WaitAsync(TimeSpan.FromSeconds(10));

        Assert.DoesNotContain(busy, others);
        Assert.False(slow.IsCompleted, "the slow request was released before the fast ones were answered");
        await File.WriteAllTextAsync(release, "");
        Assert.Equal($"released {busy}", await slow);
        File.Delete(release);
    }

    [Fact]
    public async Task AFullQueue_Answers503_WhileEveryWorkerIsBusy()
    {
        var release = TempPath("release");
        await using var host = await StartAsync(options: o => o.QueueLimit = 1);
        var busy = host.Client.GetStringAsync($"/wait_for_file?path={Uri.EscapeDataString(release)}");
        using var meters = new HostMeasurements(host.App.Services);
        await Eventually.HoldsAsync(() => host.Supervisor().Workers.Single().OpenCalls == 1, "the worker busy");

        // A request sent ahead to a busy worker waits as one in the bridge's queue does, and counts as queued.
        var queued = host.Client.GetStringAsync("/pid");
        await Eventually.HoldsAsync(() => meters.Sum("gatewaybridge.queued_calls") == 1, "a queued call");

        using var rejected = await host.Client.GetAsync("/pid");

        Assert.Equal(HttpStatusCode.ServiceUnavailable, rejected.StatusCode);
        await File.WriteAllTextAsync(release, "");
        Assert.StartsWith("released", await busy, StringComparison.Ordinal);
        Assert.Equal(await host.GetPidAsync(), int.Parse(await queued, System.Globalization.CultureInfo.InvariantCulture));
        File.Delete(release);
    }
}
