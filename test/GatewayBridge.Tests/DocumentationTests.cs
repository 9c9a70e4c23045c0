using System.Reflection;
using System.Text.RegularExpressions;
using GatewayBridge.Tests.Infrastructure;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;

namespace GatewayBridge.Tests;

/// <summary>README and docs/ say what the code does: their lists of rules, events, instruments and options, and their links.</summary>
public partial class DocumentationTests
{
    [Fact]
    public void ValidatorRules_InTheToolkitPage_AreExactlyTheRuleIds()
    {
        var section = RepositoryFiles.Section(RepositoryFiles.ReadDoc("toolkit.md"), "## Validator rules");
        var documented = RuleInBackticks().Matches(section).Select(m => m.Groups[1].Value).ToHashSet();
        var ids = typeof(RuleIds).GetFields(BindingFlags.Public | BindingFlags.Static)
            .Where(f => f.IsLiteral)
            .Select(f => (string)f.GetRawConstantValue()!)
            .ToHashSet();

        Assert.Equal(ids.Order(), documented.Order());
    }

    [Fact]
    public void LogEvents_InTheBehaviourPage_HaveTheCodesIdsAndLevels()
    {
        var section = RepositoryFiles.Section(RepositoryFiles.ReadDoc("behaviour.md"), "## Logging");
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
    public void Metrics_InTheBehaviourPage_AreExactlyTheInstruments()
    {
        var section = RepositoryFiles.Section(RepositoryFiles.ReadDoc("behaviour.md"), "## Metrics");
        var documented = MetricInTable().Matches(section).Select(m => $"{m.Groups[1].Value} {m.Groups[2].Value} {m.Groups[3].Value}").ToList();
        var published = MeterInstruments.PublishedBy(factory => new GatewayBridge.GatewayMetrics(factory));

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

    [Fact]
    public void GatewayOptions_InTheBehaviourPage_AreExactlyItsPublicProperties()
    {
        var section = RepositoryFiles.Section(RepositoryFiles.ReadDoc("behaviour.md"), "## Options");
        Assert.Equal(PublicProperties(typeof(GatewayOptions)), FirstColumn(section));
    }

    [Fact]
    public void Readme_LinksEveryDocsPage()
    {
        var readme = RepositoryFiles.ReadReadme();
        var pages = Directory.GetFiles(Path.Combine(RepositoryFiles.Root, "docs"), "*.md").Select(Path.GetFileName).Order();

        Assert.All(pages, page => Assert.Contains($"](docs/{page})", readme, StringComparison.Ordinal));
    }

    [Fact]
    public void EveryRelativeLink_InReadmeAndDocs_LeadsToAFileThatExists()
    {
        var root = RepositoryFiles.Root;
        var files = new[] { "README.md", "CHANGELOG.md", Path.Combine("examples", "README.md") }
            .Concat(Directory.GetFiles(Path.Combine(root, "docs"), "*.md").Select(f => Path.GetRelativePath(root, f)))
            .Concat(Directory.GetFiles(Path.Combine(root, "src"), "README.md", SearchOption.AllDirectories).Select(f => Path.GetRelativePath(root, f)));
        var broken = new List<string>();
        foreach (var file in files)
        {
            foreach (Match link in RelativeLink().Matches(File.ReadAllText(Path.Combine(root, file))))
            {
                var target = link.Groups[1].Value.Split('#')[0];
                var path = Path.GetFullPath(Path.Combine(root, Path.GetDirectoryName(file)!, target));
                if (target.Length > 0 && !File.Exists(path) && !Directory.Exists(path))
                {
                    broken.Add($"{file}: {link.Value}");
                }
            }
        }

        Assert.Empty(broken);
    }

    [Fact]
    public void EveryPackageReadme_LinksTheProjectsDocumentation()
    {
        foreach (var readme in Directory.GetFiles(Path.Combine(RepositoryFiles.Root, "src"), "README.md", SearchOption.AllDirectories))
        {
            Assert.Contains("/docs/", File.ReadAllText(readme), StringComparison.Ordinal);
        }
    }

    /// <summary>The names in the first column of a markdown table: "| `Name` | ...".</summary>
    public static List<string> FirstColumn(string section) =>
        section.Split('\n').Select(l => OptionRow().Match(l)).Where(m => m.Success).Select(m => m.Groups[1].Value).Order().ToList();

    /// <summary>The options a user sets: public properties, but for a name kept one release as an [Obsolete] forwarder.</summary>
    public static List<string> PublicProperties(Type type) =>
        type.GetProperties(BindingFlags.Public | BindingFlags.Instance).Where(p => p.GetCustomAttribute<ObsoleteAttribute>() is null).Select(p => p.Name).Order().ToList();

    [GeneratedRegex(@"^\| `([A-Za-z]+)` \|")]
    private static partial Regex OptionRow();

    // [text](target) where the target is not a URL.
    [GeneratedRegex(@"\]\((?!https?:|mailto:|#)([^)\s]+)\)")]
    private static partial Regex RelativeLink();

    // "| `gatewaybridge.workers` | UpDownCounter | `{worker}` |" in the metrics table.
    [GeneratedRegex(@"\| `(gatewaybridge\.[a-z_.]+)` \| (\w+) \| `([^`]+)` \|")]
    private static partial Regex MetricInTable();

    [GeneratedRegex(@"`([a-z_]+\.[a-z-]+)`")]
    private static partial Regex RuleInBackticks();

    // "`Name` (3, Warning)" in the logging table.
    [GeneratedRegex(@"`([A-Za-z]+)` \((\d+), ([A-Za-z]+)")]
    private static partial Regex EventInTable();
}
