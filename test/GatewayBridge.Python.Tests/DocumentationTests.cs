using System.Reflection;
using System.Text.RegularExpressions;
using GatewayBridge.Python.Tests.Infrastructure;
using GatewayBridge.Python.Tests.Wsgi;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;

namespace GatewayBridge.Python.Tests;

/// <summary>docs/python.md says what the code and the tests do.</summary>
public partial class DocumentationTests
{
    [Fact]
    public void EveryDeliberateDifferenceFromGunicorn_IsInThePythonPage()
    {
        var section = RepositoryFiles.Section(RepositoryFiles.ReadDoc("python.md"), "## What a Python app sees");
        var rows = section.Split('\n').Where(l => l.StartsWith("| `", StringComparison.Ordinal)).Select(l => l.Split('|')[1]).ToList();

        Assert.All(GunicornDifferentialTests.Differences.Keys, key => Assert.Contains(rows, row => row.Contains($"`{key}`", StringComparison.Ordinal)));
    }

    [Fact]
    public void EveryDeliberateDifferenceFromUvicorn_IsInReadmesTable_InTheSameWords()
    {
        var section = RepositoryFiles.Section(RepositoryFiles.ReadReadme(), "## Quickstart: a Python ASGI app");
        var rows = section.Split('\n').Where(l => l.StartsWith("| `", StringComparison.Ordinal))
            .Select(l => l.Split('|'))
            .ToDictionary(cells => cells[1].Trim().Trim('`'), cells => cells[2].Trim());

        Assert.Equal(Asgi.AsgiDifferentialTests.Differences.OrderBy(p => p.Key), rows.OrderBy(p => p.Key));
    }

    [Fact]
    public void PythonEvents_InThePythonPage_HaveTheCodesIdsAndLevels()
    {
        var section = RepositoryFiles.Section(RepositoryFiles.ReadDoc("python.md"), "## Python logging events");
        var documented = Event().Matches(section).Select(m => (m.Groups[1].Value, int.Parse(m.Groups[2].Value, System.Globalization.CultureInfo.InvariantCulture))).ToList();
        var events = typeof(PythonLoggingExtensions).GetMethods(BindingFlags.Public | BindingFlags.Static)
            .Select(m => (m.Name, m.GetCustomAttribute<LoggerMessageAttribute>()?.EventId ?? -1))
            .Where(e => e.Item2 >= 0)
            .ToList();

        Assert.Equal(events.OrderBy(e => e.Item2), documented.OrderBy(e => e.Item2));
    }

    [Fact]
    public void PythonOptions_InThePythonPage_AreExactlyItsPublicProperties()
    {
        var section = RepositoryFiles.Section(RepositoryFiles.ReadDoc("python.md"), "| `PythonOptions` |");
        var documented = section.Split('\n').Skip(1).Select(l => Row().Match(l)).Where(m => m.Success).Select(m => m.Groups[1].Value).Order();
        var properties = typeof(PythonOptions).GetProperties(BindingFlags.Public | BindingFlags.Instance).Select(p => p.Name).Order();

        Assert.Equal(properties, documented);
    }

    [Fact]
    public void TheWorkersOwnInstruments_AreInThePythonPage()
    {
        var section = RepositoryFiles.Section(RepositoryFiles.ReadDoc("python.md"), "## In worker processes");
        var published = MeterInstruments.PublishedBy(factory => new PythonWorkerMetrics(factory));

        Assert.NotEmpty(published);
        Assert.All(published, i => Assert.Contains($"| `{i.Name}` | {i.GetType().Name.Split('`')[0]} | `{i.Unit}` |", section, StringComparison.Ordinal));
    }

    [GeneratedRegex(@"^\| `([A-Za-z]+)` \|")]
    private static partial Regex Row();

    [GeneratedRegex(@"`([A-Za-z]+)` \((\d+),")]
    private static partial Regex Event();
}
