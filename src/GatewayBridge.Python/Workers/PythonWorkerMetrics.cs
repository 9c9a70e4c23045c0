using System.Diagnostics.Metrics;

namespace GatewayBridge.Python;

/// <summary>
/// The worker processes' instruments on the bridge's meter: live and busy workers, and replacements by reason. The
/// queue in front of them is the bridge's own (<c>gatewaybridge.queued_calls</c>, <c>gatewaybridge.queue.duration</c>).
/// </summary>
internal sealed class PythonWorkerMetrics : IDisposable
{
    private readonly Meter _meter;
    private readonly bool _ownsMeter;
    private readonly Counter<long> _restarts;

    public PythonWorkerMetrics(IMeterFactory? meterFactory)
    {
        _ownsMeter = meterFactory is null;
        _meter = meterFactory?.Create(GatewayMetrics.MeterName) ?? new Meter(GatewayMetrics.MeterName);
        Workers = _meter.CreateUpDownCounter<long>("gatewaybridge.python.workers", "{worker}", "Python worker processes serving (ready, not retiring).");
        BusyWorkers = _meter.CreateUpDownCounter<long>("gatewaybridge.python.busy_workers", "{worker}", "Python worker processes with a request.");
        _restarts = _meter.CreateCounter<long>(
            "gatewaybridge.python.worker_restarts", "{worker}",
            "Python worker processes replaced, by reason: exited, timeout, max_requests, memory, signal, reload.");
    }

    public UpDownCounter<long> Workers { get; }

    public UpDownCounter<long> BusyWorkers { get; }

    public void Restarted(RetireReason reason) => _restarts.Add(1, new KeyValuePair<string, object?>("reason", reason.Tag()));

    public void Dispose()
    {
        if (_ownsMeter)
        {
            _meter.Dispose();
        }
    }
}
