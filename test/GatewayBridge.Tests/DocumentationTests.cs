using System.Reflection;
using System.Text.RegularExpressions;
using GatewayBridge.Tests.Infrastructure;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;

namespace GatewayBridge.Tests;

/// <summary>README's lists of rules and log events say what the code does.</summary>
public partial class DocumentationTests
{
    [Fact]
    public void ReadmeValidatorRules_AreExactlyTheRuleIds()
    {
        var section = RepositoryFiles.Section(RepositoryFiles.ReadReadme(), "### Validator rules");
        var documented = RuleInBackticks().Matches(section).Select(m => m.Groups[1].Value).ToHashSet();
        var ids = typeof(RuleIds).GetFields(BindingFlags.Public | BindingFlags.Static)
            .Where(f => f.IsLiteral)
            .Select(f => (string)f.GetRawConstantValue()!)
            .ToHashSet();

        Assert.Equal(ids.Order(), documented.Order());
    }

    [Fact]
    public void ReadmeLogEvents_HaveTheCodesIdsAndLevels()
    {
        var section = RepositoryFiles.Section(RepositoryFiles.ReadReadme(), "## Logging");
        var documented = EventInTable().Matches(section)
            .Select(m => (Name: m.Groups[1].Value, Id: int.Parse(m.Groups[2].Value, System.Globalization.CultureInfo.InvariantCulture), Level: m.Groups[3].Value))
            .ToList();
        var events = typeof(GatewayLoggingExtensions).GetMethods(BindingFlags.Public | BindingFlags.Static)
            .Select(m => (Method: m, Attribute: m.GetCustomAttribute<LoggerMessageAttribute>()))
            .Where(e => e.Attribute is not null)
            .Select(e => (Name: e.Method.Name, Id: e.Attribute!.EventId, Level: e.Attribute.Level.ToString()))
            .ToList();

        Assert.Equal(events.OrderBy(e => e.Id), documented.OrderBy(e => e.Id));
    }

    [Fact]
    public void ReadmeMetrics_AreExactlyTheInstruments()
    {
        var section = RepositoryFiles.Section(RepositoryFiles.ReadReadme(), "## Blocking apps, slow clients, big bodies");
        var documented = MetricInTable().Matches(section).Select(m => $"{m.Groups[1].Value} {m.Groups[2].Value} {m.Groups[3].Value}").ToList();
        using var services = new ServiceCollection().AddMetrics().BuildServiceProvider();
        var factory = services.GetRequiredService<System.Diagnostics.Metrics.IMeterFactory>();
        var published = new List<System.Diagnostics.Metrics.Instrument>();
        using var listener = new System.Diagnostics.Metrics.MeterListener
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
        using var metrics = new GatewayBridge.GatewayMetrics(factory);

        Assert.Equal(documented.Order(), published.Select(i => $"{i.Name} {i.GetType().Name.Split('`')[0]} {i.Unit}").Order());
        Assert.All(published, i => Assert.False(string.IsNullOrWhiteSpace(i.Description), i.Name));
    }

    [Fact]
    public void CiRuns_ExactlyTheTestCommandReadmeGives()
    {
        var section = RepositoryFiles.Section(RepositoryFiles.ReadReadme(), "## Two commands");
        var blocks = section.Split("```").Where((_, i) => i % 2 == 1).Select(b => b.StartsWith("bash\n", StringComparison.Ordinal) ? b[5..].Trim() : b.Trim()).ToList();
        var testCommand = blocks[^1];
        var ci = File.ReadAllLines(Path.Combine(RepositoryFiles.Root, ".ci", "run"));

        Assert.Contains(testCommand, ci);
    }

    // "| `gatewaybridge.workers` | UpDownCounter | `{worker}` |" in the metrics table.
    [GeneratedRegex(@"\| `(gatewaybridge\.[a-z_.]+)` \| (\w+) \| `([^`]+)` \|")]
    private static partial Regex MetricInTable();

    [GeneratedRegex(@"`([a-z_]+\.[a-z-]+)`")]
    private static partial Regex RuleInBackticks();

    // "`Name` (3, Warning)" in the logging table.
    [GeneratedRegex(@"`([A-Za-z]+)` \((\d+), ([A-Za-z]+)")]
    private static partial Regex EventInTable();
}
