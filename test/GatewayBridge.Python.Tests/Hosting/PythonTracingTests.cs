using System.Collections.Concurrent;
using System.Diagnostics;
using GatewayBridge.Python.Tests.Asgi;
using static GatewayBridge.Python.Tests.Workers.WorkerHost;

namespace GatewayBridge.Python.Tests.Hosting;

/// <summary>
/// The spans of a Python call on the GatewayBridge.Python source, and the traceparent the app receives: a child of the
/// host's request span, as behind a tracing proxy.
/// </summary>
public sealed class PythonTracingTests : IDisposable
{
    // Only this test's traces are sampled: other tests' requests, running meanwhile, are not traced (and their apps see
    // the headers their clients sent).
    private readonly ActivityTraceId _trace = ActivityTraceId.CreateRandom();
    private readonly ConcurrentQueue<Activity> _stopped = new();
    private readonly ActivityListener _listener;

    public PythonTracingTests()
    {
        _listener = new ActivityListener
        {
            ShouldListenTo = source => source.Name is "GatewayBridge.Python" or "Microsoft.AspNetCore",
            Sample = (ref ActivityCreationOptions<ActivityContext> options) =>
                options.Parent.TraceId == _trace ? ActivitySamplingResult.AllDataAndRecorded : ActivitySamplingResult.None,
            ActivityStopped = activity => _stopped.Enqueue(activity),
        };
        ActivitySource.AddActivityListener(_listener);
    }

    public void Dispose() => _listener.Dispose();

    [Theory]
    [InlineData(0)]
    [InlineData(1)]
    public async Task TheQueueAndTheApp_AreSpansOfTheRequest_AndTheAppContinuesTheHostsSpan(int workers)
    {
        await using var host = await StartAsync(workers: workers);
        var client = ActivitySpanId.CreateRandom();
        using var request = new HttpRequestMessage(HttpMethod.Get, "/trace");
        request.Headers.Add("traceparent", $"00-{_trace}-{client}-01");
        request.Headers.Add("tracestate", "vendor=1");

        using var response = await host.Client.SendAsync(request);
        var (traceparent, tracestate) = (await response.Content.ReadAsStringAsync()).Split(' ') is [var p, var s] ? (p, s) : throw new InvalidOperationException();

        var app = await Eventually.ReturnsAsync(() => Task.FromResult(_stopped.FirstOrDefault(a => a.OperationName == "python.app")), a => a is not null, "the app span");
        var queue = _stopped.Single(a => a.OperationName == "python.queue");
        var server = await Eventually.ReturnsAsync(() => Task.FromResult(_stopped.FirstOrDefault(a => a.Source.Name == "Microsoft.AspNetCore")), a => a is not null, "the request span");
        Assert.Equal($"00-{_trace}-{app!.SpanId}-01", traceparent);
        Assert.Equal("vendor=1", tracestate);
        Assert.Equal(server!.SpanId, app.ParentSpanId);
        Assert.Equal(server.SpanId, queue.ParentSpanId);
        Assert.Equal("worker_apps:router", app.GetTagItem("python.app"));
        if (workers > 0)
        {
            Assert.Equal(await host.GetPidAsync(), app.GetTagItem("python.worker.pid"));
            Assert.Equal(app.GetTagItem("python.worker.pid"), queue.GetTagItem("python.worker.pid"));
        }
    }

    [Fact]
    public async Task ARequestSentAheadToABusyWorker_WaitsInTheQueueSpan_UntilAThreadOfTheWorkerTakesIt()
    {
        await using var host = await StartAsync();
        var file = TempPath("release");
        var holding = host.Client.GetStringAsync($"/wait_for_file?path={Uri.EscapeDataString(file)}");
        await Eventually.HoldsAsync(() => host.Supervisor().Workers.Single().OpenCalls == 1, "the worker's thread held");
        using var request = new HttpRequestMessage(HttpMethod.Get, "/trace");
        request.Headers.Add("traceparent", $"00-{_trace}-{ActivitySpanId.CreateRandom()}-01");
        var traced = host.Client.SendAsync(request);
        await Eventually.HoldsAsync(() => host.Supervisor().Workers.Single().OpenCalls == 2, "the traced request sent ahead to the busy worker");

        var released = DateTime.UtcNow;
        await File.WriteAllTextAsync(file, "");
        using var response = await traced;
        await holding;
        File.Delete(file);

        var app = await Eventually.ReturnsAsync(() => Task.FromResult(_stopped.FirstOrDefault(a => a.OperationName == "python.app")), a => a is not null, "the app span");
        var queue = _stopped.Single(a => a.OperationName == "python.queue");
        Assert.True(app!.StartTimeUtc >= released, $"the app span starts at {app.StartTimeUtc:O}, before the worker's thread was free at {released:O}");
        Assert.Equal(queue.StartTimeUtc + queue.Duration, app.StartTimeUtc);
    }

    [Fact]
    public void AStartTheWorkerReports_EarlierThanTheSending_IsTakenAsTheSending()
    {
        // The worker's clock is the host's, but a start it reports can never come before the request was sent.
        using var queued = new Activity("python.queue").Start();
        using var app = new Activity("python.app").Start();
        var sent = DateTime.UtcNow;

        PythonTracing.EndWorkerCall(queued, app, sent, startedAt: 1);

        Assert.Equal(sent, queued.StartTimeUtc + queued.Duration);
        Assert.Equal(sent, app.StartTimeUtc);
        Assert.True(queued.IsStopped && app.IsStopped);
    }

    [Fact]
    public async Task ARequestTheHostDoesNotTrace_ReachesTheAppWithItsClientsHeaders()
    {
        await using var host = await StartAsync();
        var header = $"00-{ActivityTraceId.CreateRandom()}-{ActivitySpanId.CreateRandom()}-00";
        using var request = new HttpRequestMessage(HttpMethod.Get, "/trace");
        request.Headers.Add("traceparent", header);
        request.Headers.Add("tracestate", "vendor=2");

        using var response = await host.Client.SendAsync(request);

        Assert.Equal($"{header} vendor=2", await response.Content.ReadAsStringAsync());
    }

    [Theory]
    [InlineData(0)]
    [InlineData(1)]
    public async Task ARequestTheHostRecords_WithNobodyListeningToPythonSpans_ReachesTheAppAsAChildOfTheHostsSpan(int workers)
    {
        // A tracer set up for ASP.NET Core alone: the host's request span is recorded, and no python.* span is made.
        var hostOnly = ActivityTraceId.CreateRandom();
        var stopped = new ConcurrentQueue<Activity>();
        using var aspNetCore = new ActivityListener
        {
            ShouldListenTo = source => source.Name == "Microsoft.AspNetCore",
            Sample = (ref ActivityCreationOptions<ActivityContext> options) =>
                options.Parent.TraceId == hostOnly ? ActivitySamplingResult.AllDataAndRecorded : ActivitySamplingResult.None,
            ActivityStopped = stopped.Enqueue,
        };
        ActivitySource.AddActivityListener(aspNetCore);
        await using var host = await StartAsync(workers: workers);
        using var request = new HttpRequestMessage(HttpMethod.Get, "/trace");
        request.Headers.Add("traceparent", $"00-{hostOnly}-{ActivitySpanId.CreateRandom()}-01");

        using var response = await host.Client.SendAsync(request);
        var traceparent = (await response.Content.ReadAsStringAsync()).Split(' ')[0];

        var server = await Eventually.ReturnsAsync(() => Task.FromResult(stopped.FirstOrDefault(a => a.TraceId == hostOnly)), a => a is not null, "the request span");
        Assert.Equal($"00-{hostOnly}-{server!.SpanId}-01", traceparent);
    }

    [Theory]
    [InlineData(0)]
    [InlineData(1)]
    public async Task AnAsgiApp_GetsTheAppSpansTraceparent_InPlaceOfTheClients(int workers)
    {
        await using var host = await AsgiHost.StartAsync(workers);
        using var request = new HttpRequestMessage(HttpMethod.Get, "/request_headers");
        request.Headers.Add("traceparent", $"00-{_trace}-{ActivitySpanId.CreateRandom()}-01");

        using var response = await host.Client.SendAsync(request);
        var body = await response.Content.ReadAsStringAsync();

        var app = await Eventually.ReturnsAsync(() => Task.FromResult(_stopped.FirstOrDefault(a => a.OperationName == "python.app")), a => a is not null, "the app span");
        Assert.Contains($"00-{_trace}-{app!.SpanId}-01", body, StringComparison.Ordinal);
        Assert.Single(System.Text.RegularExpressions.Regex.Matches(body, "traceparent"));
    }
}
