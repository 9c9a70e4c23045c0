using System.Diagnostics;
using System.Text.Json;

namespace GatewayBridge.Python;

/// <summary>
/// What a <c>python3</c> executable says about itself: its version, shared library, prefixes and <c>sys.path</c>,
/// everything needed to embed the same Python in this process.
/// </summary>
internal sealed record PythonInstallation(
    string Executable, string Version, string? Library, string Prefix, string ExecPrefix, IReadOnlyList<string> Path)
{
    // sys.path[0] is the script's folder ('' for -c); the embedded interpreter has no script, so it is left out.
    private const string Probe = """
        import json, os, sys, sysconfig
        v = sysconfig.get_config_var
        print(json.dumps({"executable": sys.executable, "version": "%d.%d.%d" % sys.version_info[:3],
            "libdir": v("LIBDIR"), "multiarch": v("MULTIARCH"), "instsoname": v("INSTSONAME"), "ldlibrary": v("LDLIBRARY"),
            "base_prefix": sys.base_prefix, "prefix": sys.prefix, "exec_prefix": sys.exec_prefix, "path": sys.path[1:]}))
        """;

    /// <summary>Asks <paramref name="python"/> about itself; its shared library is required only to embed it.</summary>
    public static PythonInstallation Find(string python, string contentRoot, bool requireLibrary = true)
    {
        var executable = Resolve(python, contentRoot);
        var start = new ProcessStartInfo(executable, ["-c", Probe])
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
        };
        start.Environment.Remove("PYTHONSTARTUP");
        using var process = Process.Start(start) ?? throw new InvalidOperationException($"Could not start '{executable}'.");
        var output = process.StandardOutput.ReadToEndAsync();
        var error = process.StandardError.ReadToEndAsync();
        if (!process.WaitForExit(TimeSpan.FromSeconds(30)))
        {
            process.Kill();
            throw new InvalidOperationException($"'{executable}' did not describe itself within 30 seconds.");
        }

        if (process.ExitCode != 0)
        {
            throw new InvalidOperationException($"'{executable}' failed to describe itself (exit code {process.ExitCode}): {error.Result.Trim()}");
        }

        using var json = JsonDocument.Parse(output.Result);
        var root = json.RootElement;
        string Text(string name) => root.GetProperty(name).GetString() ?? "";
        var version = Text("version");
        var candidates = new[]
        {
            System.IO.Path.Combine(Text("libdir"), Text("instsoname")),
            System.IO.Path.Combine(Text("libdir"), Text("multiarch"), Text("instsoname")),
            System.IO.Path.Combine(Text("libdir"), Text("ldlibrary")),
            System.IO.Path.Combine(Text("base_prefix"), "lib", Text("instsoname")),
        };
        var library = candidates.FirstOrDefault(c => c.Contains(".so", StringComparison.Ordinal) && File.Exists(c));
        if (library is null && requireLibrary)
        {
            throw new InvalidOperationException(
                $"'{executable}' (Python {version}) has no shared library to embed; looked for {string.Join(", ", candidates.Distinct())}. " +
                $"Install its libpython (Debian: libpython{version[..version.LastIndexOf('.')]}), or use a Python built with --enable-shared; " +
                "worker processes (PythonOptions.Workers ≥ 1) need no shared library.");
        }

        var path = root.GetProperty("path").EnumerateArray().Select(p => p.GetString() ?? "").Where(p => p.Length > 0).ToList();
        return new PythonInstallation(Text("executable"), version, library, Text("prefix"), Text("exec_prefix"), path);
    }

    private static string Resolve(string python, string contentRoot)
    {
        if (python.Contains('/', StringComparison.Ordinal))
        {
            // Not resolved through symlinks: a virtual environment's python3 is a link, and the link is what makes it one.
            var path = System.IO.Path.GetFullPath(python, contentRoot);
            return File.Exists(path) ? path : throw new InvalidOperationException($"PythonOptions.Python is '{python}', and there is no file at {path}.");
        }

        foreach (var folder in (Environment.GetEnvironmentVariable("PATH") ?? "").Split(System.IO.Path.PathSeparator, StringSplitOptions.RemoveEmptyEntries))
        {
            var candidate = System.IO.Path.Combine(folder, python);
            if (File.Exists(candidate))
            {
                return candidate;
            }
        }

        throw new InvalidOperationException($"PythonOptions.Python is '{python}', which is not on PATH. Install Python 3, or set it to the path of a python3 executable.");
    }
}
