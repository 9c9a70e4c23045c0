using System.Diagnostics;
using System.Text.RegularExpressions;

namespace GatewayBridge.Python.Tests.Infrastructure;

/// <summary>
/// What must run in a process of its own: a process embeds one CPython, so another Python (a virtual environment), or
/// a process's exit, is tested through the serve tool in a child process.
/// </summary>
public static partial class ChildProcesses
{
    /// <summary>Creates a virtual environment of Debian's python3 (no pip: PyPI is not reachable anyway).</summary>
    public static string CreateVirtualEnvironment(bool systemSitePackages)
    {
        var folder = Path.Combine(Path.GetTempPath(), "gatewaybridge-venv-" + Guid.NewGuid().ToString("N"));
        var arguments = new List<string> { "-m", "venv", "--without-pip" };
        if (systemSitePackages)
        {
            arguments.Add("--system-site-packages");
        }

        arguments.Add(folder);
        using var process = Process.Start(new ProcessStartInfo(PythonTestHost.Python, arguments) { RedirectStandardError = true })!;
        var error = process.StandardError.ReadToEnd();
        process.WaitForExit();
        Assert.True(process.ExitCode == 0, $"python3 -m venv failed: {error}");
        return folder;
    }

    /// <summary>Starts <c>gatewaybridge serve</c> with <paramref name="arguments"/> and waits for the URL it serves on.</summary>
    public static async Task<(Process Process, Uri Url)> StartServeAsync(params string[] arguments)
    {
        var serve = Path.Combine(AppContext.BaseDirectory, "GatewayBridge.Serve.dll");
        var start = new ProcessStartInfo("dotnet", [serve, "serve", .. arguments, "--urls", "http://127.0.0.1:0"])
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
        };
        var process = Process.Start(start)!;
        var errors = process.StandardError.ReadToEndAsync();
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(60));
        while (await process.StandardOutput.ReadLineAsync(timeout.Token) is { } line)
        {
            if (ServingOn().Match(line) is { Success: true } match)
            {
                return (process, new Uri(match.Groups[1].Value));
            }
        }

        await process.WaitForExitAsync(timeout.Token);
        throw new InvalidOperationException($"The serve tool exited ({process.ExitCode}) without serving: {await errors}");
    }

    /// <summary>Asks a process to stop as a service manager does (SIGTERM).</summary>
    public static void Terminate(Process process)
    {
        using var kill = Process.Start("kill", ["-TERM", process.Id.ToString(System.Globalization.CultureInfo.InvariantCulture)])!;
        kill.WaitForExit();
    }

    [GeneratedRegex(@"^Serving .* on (http://\S+)$")]
    private static partial Regex ServingOn();
}
