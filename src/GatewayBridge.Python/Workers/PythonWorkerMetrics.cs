using System.Diagnostics.Metrics;

namespace GatewayBridge.Python;

/// <summary>
/// What only worker processes add to the bridge's meter: replacements, by reason. Workers alive and busy and the
/// queue are the bridge's own instruments (<c>gatewaybridge.workers</c>, <c>gatewaybridge.busy_workers</c>, ...).
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
        _restarts = _meter.CreateCounter<long>(
            "gatewaybridge.python.worker_restarts", "{worker}",
            "Python worker processes replaced, by reason: exited, timeout, max_requests, memory, signal, reload.");
    }

    public void Restarted(string reason) => _restarts.Add(1, new KeyValuePair<string, object?>("reason", reason));

    public void Dispose()
    {
        if (_ownsMeter)
        {
            _meter.Dispose();
        }
    }
}
