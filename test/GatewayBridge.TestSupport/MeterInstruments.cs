using System.Diagnostics.Metrics;
using Microsoft.Extensions.DependencyInjection;

namespace GatewayBridge.TestSupport;

/// <summary>The instruments a metrics class publishes, for the tests that keep the docs' metric tables honest.</summary>
public static class MeterInstruments
{
    /// <summary>What <paramref name="create"/> publishes on a meter factory of its own (no other test's instruments).</summary>
    public static List<Instrument> PublishedBy(Func<IMeterFactory, IDisposable> create)
    {
        using var services = new ServiceCollection().AddMetrics().BuildServiceProvider();
        var factory = services.GetRequiredService<IMeterFactory>();
        var published = new List<Instrument>();
        using var listener = new MeterListener
        {
            InstrumentPublished = (instrument, _) =>
            {
                if (ReferenceEquals(instrument.Meter.Scope, factory))
                {
                    published.Add(instrument);
                }
            },
        };
        listener.Start();
        create(factory).Dispose();
        return published;
    }
}
