namespace GatewayBridge.TestSupport;

/// <summary>Finds the repository's own files: README, the docs and the contract.</summary>
public static class RepositoryFiles
{
    public static string Root { get; } = FindRoot();

    public static string ReadReadme() => File.ReadAllText(Path.Combine(Root, "README.md"));

    /// <summary>The contract the project implements, <c>docs/gateway-interface.md</c>.</summary>
    public static string ReadContract() => ReadDoc("gateway-interface.md");

    /// <summary>A page of <c>docs/</c>.</summary>
    public static string ReadDoc(string name) => File.ReadAllText(Path.Combine(Root, "docs", name));

    /// <summary>The lines of the markdown section that starts with <paramref name="heading"/>, up to the next heading.</summary>
    public static string Section(string markdown, string heading)
    {
        var start = markdown.IndexOf(heading, StringComparison.Ordinal);
        Assert.True(start >= 0, $"No section '{heading}'.");
        var end = markdown.IndexOf("\n#", start + heading.Length, StringComparison.Ordinal);
        return end < 0 ? markdown[start..] : markdown[start..end];
    }

    private static string FindRoot()
    {
        for (var dir = new DirectoryInfo(AppContext.BaseDirectory); dir is not null; dir = dir.Parent)
        {
            if (File.Exists(Path.Combine(dir.FullName, "GatewayBridge.sln")))
            {
                return dir.FullName;
            }
        }

        throw new InvalidOperationException("The tests run outside the repository.");
    }
}
