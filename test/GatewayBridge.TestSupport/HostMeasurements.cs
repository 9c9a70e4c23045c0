using System.Collections.Concurrent;
using System.Diagnostics.Metrics;
using Microsoft.Extensions.DependencyInjection;

namespace GatewayBridge.TestSupport;

/// <summary>
/// Records the bridge's measurements from one host only: tests run in parallel, and each host's meters are scoped to
/// its own <see cref="IMeterFactory"/>, so another test's busy workers never show up here.
/// </summary>
public sealed class HostMeasurements : IDisposable
{
    private readonly MeterListener _listener = new();

    public HostMeasurements(IServiceProvider services)
    {
        var factory = services.GetRequiredService<IMeterFactory>();
        _listener.InstrumentPublished = (instrument, listener) =>
        {
            if (instrument.Meter.Name == GatewayMetrics.MeterName && ReferenceEquals(instrument.Meter.Scope, factory))
            {
                listener.EnableMeasurementEvents(instrument);
            }
        };
        _listener.SetMeasurementEventCallback<long>((instrument, value, tags, _) => All.Enqueue(new(instrument.Name, value, Tags(tags))));
        _listener.SetMeasurementEventCallback<double>((instrument, value, tags, _) => All.Enqueue(new(instrument.Name, value, Tags(tags))));
        _listener.Start();
    }

    public ConcurrentQueue<Measurement> All { get; } = new();

    /// <summary>For an up-down counter, its current value (counted from when recording began).</summary>
    public double Sum(string name) => All.Where(m => m.Name == name).Sum(m => m.Value);

    public void Dispose() => _listener.Dispose();

    private static string Tags(ReadOnlySpan<KeyValuePair<string, object?>> tags)
    {
        var text = new List<string>();
        foreach (var (key, value) in tags)
        {
            text.Add($"{key}={value}");
        }

        return string.Join(",", text);
    }
}

/// <summary>One measurement: the instrument, the value, and its tags as <c>key=value</c> pairs, comma-separated.</summary>
public readonly record struct Measurement(string Name, double Value, string Tags);
