using System.Diagnostics.Metrics;

namespace GatewayBridge;

/// <summary>
/// The bridge's instruments, in the style of ASP.NET Core's own meters (visible with
/// <c>dotnet-counters monitor --counters GatewayBridge</c>).
/// </summary>
internal sealed class GatewayMetrics : IDisposable
{
    public const string MeterName = "GatewayBridge";

    private readonly Meter _meter;
    private readonly bool _ownsMeter;

    public GatewayMetrics(IMeterFactory? meterFactory)
    {
        _ownsMeter = meterFactory is null;
        _meter = meterFactory?.Create(MeterName) ?? new Meter(MeterName);
        AppThreads = _meter.CreateUpDownCounter<long>("gatewaybridge.app_threads", "{thread}", "Threads started for gateway app code (.NET app threads, on demand; a Python host's threads).");
        BusyAppThreads = _meter.CreateUpDownCounter<long>("gatewaybridge.busy_app_threads", "{thread}", "Threads running gateway app code.");
        QueuedCalls = _meter.CreateUpDownCounter<long>("gatewaybridge.queued_calls", "{call}", "Calls into gateway app code waiting for a thread or a Python worker.");
        QueueDuration = _meter.CreateHistogram<double>("gatewaybridge.queue.duration", "s", "Time a call into gateway app code waited for a thread or a Python worker.");
        RejectedRequests = _meter.CreateCounter<long>("gatewaybridge.rejected_requests", "{request}", "Requests answered 503 because the queue was full.");
        LegacyWorkers = _meter.CreateUpDownCounter<long>("gatewaybridge.workers", "{worker}", "Deprecated (removed in 0.3): gatewaybridge.app_threads plus gatewaybridge.python.workers.");
        LegacyBusyWorkers = _meter.CreateUpDownCounter<long>("gatewaybridge.busy_workers", "{worker}", "Deprecated (removed in 0.3): gatewaybridge.busy_app_threads plus gatewaybridge.python.busy_workers.");
    }

    public UpDownCounter<long> AppThreads { get; }

    public UpDownCounter<long> BusyAppThreads { get; }

    /// <summary>The 0.1 name of the threads and worker processes together, kept one release.</summary>
    public UpDownCounter<long> LegacyWorkers { get; }

    /// <summary>The 0.1 name of the busy threads and worker processes together, kept one release.</summary>
    public UpDownCounter<long> LegacyBusyWorkers { get; }

    public UpDownCounter<long> QueuedCalls { get; }

    public Histogram<double> QueueDuration { get; }

    public Counter<long> RejectedRequests { get; }

    public void Dispose()
    {
        if (_ownsMeter)
        {
            _meter.Dispose();
        }
    }
}
