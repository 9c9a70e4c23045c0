using System.Reflection;
using System.Text.RegularExpressions;
using GatewayBridge.Python.Tests.Infrastructure;
using Microsoft.Extensions.Logging;

namespace GatewayBridge.Python.Tests;

/// <summary>README's Python sections say what the code and the tests do.</summary>
public partial class DocumentationTests
{
    [Fact]
    public void EveryDeliberateDifferenceFromGunicorn_IsInReadme()
    {
        var section = RepositoryFiles.Section(RepositoryFiles.ReadReadme(), "### What a Python app sees");
        var rows = section.Split('\n').Where(l => l.StartsWith("| `", StringComparison.Ordinal)).Select(l => l.Split('|')[1]).ToList();

        Assert.All(GunicornDifferentialTests.Differences.Keys, key => Assert.Contains(rows, row => row.Contains($"`{key}`", StringComparison.Ordinal)));
    }

    [Fact]
    public void ReadmePythonEvents_HaveTheCodesIdsAndLevels()
    {
        var section = RepositoryFiles.Section(RepositoryFiles.ReadReadme(), "### Python logging events");
        var documented = Event().Matches(section).Select(m => (m.Groups[1].Value, int.Parse(m.Groups[2].Value, System.Globalization.CultureInfo.InvariantCulture))).ToList();
        var events = typeof(PythonWsgiLoggingExtensions).GetMethods(BindingFlags.Public | BindingFlags.Static)
            .Select(m => (m.Name, m.GetCustomAttribute<LoggerMessageAttribute>()?.EventId ?? -1))
            .Where(e => e.Item2 >= 0)
            .ToList();

        Assert.Equal(events.OrderBy(e => e.Item2), documented.OrderBy(e => e.Item2));
    }

    [GeneratedRegex(@"`([A-Za-z]+)` \((\d+),")]
    private static partial Regex Event();
}
