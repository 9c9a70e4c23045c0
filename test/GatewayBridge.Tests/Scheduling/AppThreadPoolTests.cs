using System.Collections.Concurrent;
using System.Net;
using GatewayBridge.Tests.Infrastructure;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.Logging;
using static GatewayBridge.Tests.Infrastructure.Apps;

namespace GatewayBridge.Tests.Scheduling;

/// <summary>The app thread pool with a small configuration: one thread, no inline calls, a short queue.</summary>
public class AppThreadPoolTests
{
    private static readonly (string, string)[] Text = [("Content-Type", "text/plain")];

    /// <summary>An app whose calls block until the test lets them go, recording which ones ran.</summary>
    private sealed class GatedApp
    {
        private readonly SemaphoreSlim _gate = new(0);

        public ConcurrentQueue<string> Ran { get; } = new();

        public ConcurrentQueue<int> ThreadIds { get; } = new();

        public SemaphoreSlim Entered { get; } = new(0);

        public void Release(int count = 1) => _gate.Release(count);

        public IEnumerable<byte[]> Handle(IDictionary<string, object?> environ, StartResponse startResponse)
        {
            Ran.Enqueue((string)environ[Environ.PathInfo]!);
            ThreadIds.Enqueue(Environment.CurrentManagedThreadId);
            Entered.Release();
            _gate.Wait(TimeSpan.FromSeconds(20));
            startResponse("200 OK", Text);
            return [Bytes("done " + environ[Environ.PathInfo])];
        }
    }

    private static Task<TestHost> StartAsync(GatedApp app, int queueLimit = 4) =>
        TestApp.StartAsync(app.Handle, kestrel: true, options: o =>
        {
            o.MaxInlineCalls = 0;
            o.AppThreads = 1;
            o.QueueLimit = queueLimit;
        });

    [Fact]
    public async Task CallsBeyondTheAppThreads_WaitInTheQueue_AndRunInTurn()
    {
        var app = new GatedApp();
        await using var host = await StartAsync(app);
        using var meters = new HostMeasurements(host.App.Services);

        var first = host.Client.GetStringAsync("/first");
        Assert.True(await app.Entered.WaitAsync(TimeSpan.FromSeconds(10)));
        var second = host.Client.GetStringAsync("/second");
        await Eventually.HoldsAsync(() => meters.Sum(QueuedCalls) == 1, "one queued call");
        Assert.Equal(["/first"], app.Ran);

        app.Release(2);
        Assert.Equal("done /first", await first);
        Assert.Equal("done /second", await second);
        Assert.Equal(["/first", "/second"], app.Ran);
        Assert.Single(app.ThreadIds.Distinct());
        Assert.DoesNotContain(Environment.CurrentManagedThreadId, app.ThreadIds);
    }

    [Fact]
    public async Task AFullQueue_Answers503WithRetryAfter_BeforeReadingTheBody()
    {
        var app = new GatedApp();
        await using var host = await StartAsync(app, queueLimit: 1);
        using var meters = new HostMeasurements(host.App.Services);
        var (busy, queued) = await FillQueueAsync(host, app, meters);

        using var connection = host.Connect();
        await connection.SendAsync("POST /rejected HTTP/1.1\r\nHost: t\r\nContent-Length: 1000000\r\n\r\n");
        var response = await connection.ReadUntilAsync("\r\n\r\n");

        Assert.StartsWith("HTTP/1.1 503", response, StringComparison.Ordinal);
        Assert.Contains("Retry-After: 1", response, StringComparison.Ordinal);
        app.Release(2);
        await busy;
        await queued;
        Assert.DoesNotContain("/rejected", app.Ran);
        var logged = Assert.Single(await host.Logs.WaitForAsync(e => e.EventId.Name == "QueueFull"));
        Assert.Equal(LogLevel.Debug, logged.Level);
        Assert.Contains("/rejected", logged.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task AQueuedRequestWhoseClientLeft_NeverRuns()
    {
        var app = new GatedApp();
        var abandoned = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        await using var host = await TestApp.StartAsync(
            web =>
            {
                // Tells the test when the server, not just the client, knows /abandoned is gone.
                web.Use((context, next) =>
                {
                    if (context.Request.Path == "/abandoned")
                    {
                        context.RequestAborted.Register(() => abandoned.TrySetResult());
                    }

                    return next(context);
                });
                web.UseGatewayApp(app.Handle, o =>
                {
                    o.MaxInlineCalls = 0;
                    o.AppThreads = 1;
                    o.QueueLimit = 1;
                });
            },
            kestrel: true);
        using var meters = new HostMeasurements(host.App.Services);

        var busy = host.Client.GetStringAsync("/busy");
        Assert.True(await app.Entered.WaitAsync(TimeSpan.FromSeconds(10)));
        using (var connection = host.Connect())
        {
            await connection.SendAsync("GET /abandoned HTTP/1.1\r\nHost: t\r\n\r\n");

            // With room for one, a full queue means /abandoned is in it: the client leaves only then.
            await Eventually.HoldsAsync(() => meters.Sum(QueuedCalls) == 1, "one queued call");
        }

        await abandoned.Task.WaitAsync(TimeSpan.FromSeconds(10));
        app.Release(2);
        await busy;
        var after = await host.Client.GetStringAsync("/after");

        Assert.Equal("done /after", after);
        Assert.Equal(["/busy", "/after"], app.Ran);
    }

    [Fact]
    public async Task TheRequestCancellationToken_ReachesTheAppThroughTheEnviron()
    {
        var entered = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        var cancelled = new TaskCompletionSource<bool>();
        await using var host = await TestApp.StartAsync(
            (environ, startResponse) =>
            {
                var token = (CancellationToken)environ[Environ.RequestAborted]!;
                entered.TrySetResult();
                cancelled.TrySetResult(token.WaitHandle.WaitOne(TimeSpan.FromSeconds(10)));
                startResponse("200 OK", Text);
                return [];
            },
            kestrel: true,
            options: o => o.MaxInlineCalls = 0);

        using (var connection = host.Connect())
        {
            await connection.SendAsync("GET / HTTP/1.1\r\nHost: t\r\n\r\n");

            // Leaving before a thread takes the call would (rightly) drop it unrun, so the
            // client waits until the app is running; only then does it go.
            await entered.Task.WaitAsync(TimeSpan.FromSeconds(10));
        }

        Assert.True(await cancelled.Task.WaitAsync(TimeSpan.FromSeconds(15)));
    }

    [Fact]
    public async Task Metrics_ReportBusyThreadsQueueLengthWaitAndRejections()
    {
        var app = new GatedApp();
        await using var host = await StartAsync(app, queueLimit: 1);
        using var meters = new HostMeasurements(host.App.Services);
        var (busy, queued) = await FillQueueAsync(host, app, meters);
        var sinceQueued = System.Diagnostics.Stopwatch.StartNew();
        Assert.Equal(HttpStatusCode.ServiceUnavailable, (await host.Client.GetAsync("/rejected")).StatusCode);
        var leastWait = sinceQueued.Elapsed.TotalSeconds;
        app.Release(2);
        await busy;
        await queued;

        // The client has its responses before the server is done: the validator's iterable is still to be closed,
        // on a thread. A graceful stop waits for every request to finish; a thread then counts itself idle just
        // after the last call it ran returns.
        await host.App.StopAsync();
        await Eventually.HoldsAsync(() => meters.Sum("gatewaybridge.busy_app_threads") == 0, "no busy app thread");
        Assert.Contains(meters.All, m => m.Name == "gatewaybridge.busy_app_threads" && m.Value == 1);
        Assert.Equal(0, meters.Sum(QueuedCalls));
        Assert.True(meters.All.Count(m => m.Name == QueuedCalls && m.Value == 1) >= 2);
        Assert.Equal(1, meters.Sum("gatewaybridge.rejected_requests"));
        var waits = meters.All.Where(m => m.Name == "gatewaybridge.queue.duration").Select(m => m.Value).ToList();
        Assert.True(waits.Count >= 2);
        Assert.True(waits.Max() >= leastWait, $"the queued call waited {waits.Max()} s for the busy thread, which kept it at least {leastWait} s");
    }

    [Fact]
    public async Task InlineCalls_RunOnTheRequestThread_UpToTheLimit()
    {
        var threadNames = new ConcurrentQueue<string?>();
        await using var host = await TestApp.StartAsync(
            (environ, startResponse) =>
            {
                threadNames.Enqueue(Thread.CurrentThread.Name);
                startResponse("200 OK", Text);
                return [];
            },
            kestrel: true,
            options: o => o.MaxInlineCalls = 4);

        await host.Client.GetStringAsync("/");
        Assert.DoesNotContain(threadNames, n => n?.StartsWith("GatewayBridge app thread", StringComparison.Ordinal) == true);
    }

    [Fact]
    public async Task IteratorSteps_AndDisposal_RunOnAppThreads_WhenNothingMayRunInline()
    {
        var names = new ConcurrentQueue<string?>();
        IEnumerable<byte[]> App(IDictionary<string, object?> environ, StartResponse startResponse)
        {
            try
            {
                names.Enqueue(Thread.CurrentThread.Name);
                startResponse("200 OK", Text);
                yield return Bytes("a");
                names.Enqueue(Thread.CurrentThread.Name);
                yield return Bytes("b");
            }
            finally
            {
                names.Enqueue(Thread.CurrentThread.Name);
            }
        }

        await using var host = await TestApp.StartAsync(App, kestrel: true, options: o => o.MaxInlineCalls = 0);

        Assert.Equal("ab", await host.Client.GetStringAsync("/"));
        Assert.Equal(3, names.Count);
        Assert.All(names, n => Assert.StartsWith("GatewayBridge app thread", n, StringComparison.Ordinal));
    }

    [Fact]
    public async Task AnInlineSlot_IsFreedAfterEachCall()
    {
        // One inline slot: were it kept after a call, every later call would wait for a thread.
        var threadNames = new ConcurrentQueue<string?>();
        await using var host = await TestApp.StartAsync(
            (environ, startResponse) =>
            {
                threadNames.Enqueue(Thread.CurrentThread.Name);
                startResponse("200 OK", Text);
                return [];
            },
            kestrel: true,
            options: o => o.MaxInlineCalls = 1);
        using var meters = new HostMeasurements(host.App.Services);

        for (var i = 0; i < 5; i++)
        {
            await host.Client.GetStringAsync("/");
        }

        Assert.Equal(5, threadNames.Count);
        Assert.DoesNotContain(threadNames, n => n?.StartsWith("GatewayBridge app thread", StringComparison.Ordinal) == true);
        Assert.DoesNotContain(meters.All, m => m.Name == "gatewaybridge.queue.duration");
    }

    [Fact]
    public async Task ASlowUpload_HoldsNoAppThread()
    {
        // One thread and nothing inline: an upload still arriving must not take it, or the next request would wait.
        var app = new GatedApp();
        app.Release(10);
        await using var host = await StartAsync(app);
        using var slow = host.Connect();
        await slow.SendAsync("POST /slow HTTP/1.1\r\nHost: t\r\nContent-Length: 100\r\n\r\n0123456789");

        Assert.Equal("done /fast", await host.Client.GetStringAsync("/fast"));
        Assert.DoesNotContain("/slow", app.Ran);
    }

    [Fact]
    public async Task NativeEndpoints_Answer_WhileTheGatewayAppsThreadIsBlockedAndItsQueueIsFull()
    {
        var app = new GatedApp();
        await using var host = await TestApp.StartAsync(
            web =>
            {
                web.MapGet("/native", () => "native");
                web.UseGatewayApp(app.Handle, o =>
                {
                    o.MaxInlineCalls = 0;
                    o.AppThreads = 1;
                    o.QueueLimit = 1;
                });
            },
            kestrel: true);
        using var meters = new HostMeasurements(host.App.Services);
        var (busy, queued) = await FillQueueAsync(host, app, meters);

        Assert.Equal("native", await host.Client.GetStringAsync("/native"));

        app.Release(2);
        await busy;
        await queued;
    }

    /// <summary>Occupies the one thread with /busy and the one queue place with /queued.</summary>
    private static async Task<(Task<string> Busy, Task<string> Queued)> FillQueueAsync(TestHost host, GatedApp app, HostMeasurements meters)
    {
        var busy = host.Client.GetStringAsync("/busy");
        Assert.True(await app.Entered.WaitAsync(TimeSpan.FromSeconds(10)));
        var queued = host.Client.GetStringAsync("/queued");
        await Eventually.HoldsAsync(() => meters.Sum(QueuedCalls) == 1, "one queued call");
        return (busy, queued);
    }

    private const string QueuedCalls = "gatewaybridge.queued_calls";
}
