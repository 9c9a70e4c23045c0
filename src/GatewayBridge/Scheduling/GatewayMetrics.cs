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
        Workers = _meter.CreateUpDownCounter<long>("gatewaybridge.workers", "{worker}", "Worker threads started for gateway app code (they start on demand).");
        BusyWorkers = _meter.CreateUpDownCounter<long>("gatewaybridge.busy_workers", "{worker}", "Worker threads running gateway app code.");
        QueuedCalls = _meter.CreateUpDownCounter<long>("gatewaybridge.queued_calls", "{call}", "Calls into gateway app code waiting for a worker thread.");
        QueueDuration = _meter.CreateHistogram<double>("gatewaybridge.queue.duration", "s", "Time a call into gateway app code waited for a worker thread.");
        RejectedRequests = _meter.CreateCounter<long>("gatewaybridge.rejected_requests", "{request}", "Requests answered 503 because the worker queue was full.");
    }

    public UpDownCounter<long> Workers { get; }

    public UpDownCounter<long> BusyWorkers { get; }

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
