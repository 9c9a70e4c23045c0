using System.Diagnostics;
using GatewayBridge.Python.Tests.Infrastructure;

namespace GatewayBridge.Python.Tests;

/// <summary>The Python the package ships is linted like any other code.</summary>
public class ShimModuleTests
{
    [Fact]
    public async Task TheShimAndTheTestApps_PassPyflakes()
    {
        string[] files =
        [
            Path.Combine(RepositoryFiles.Root, "src", "GatewayBridge.Python", "gatewaybridge_wsgi.py"),
            .. Directory.GetFiles(PythonTestHost.AppsFolder, "*.py"),
        ];
        using var process = Process.Start(new ProcessStartInfo(PythonTestHost.Python, ["-m", "pyflakes", .. files])
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
        })!;
        var output = await process.StandardOutput.ReadToEndAsync() + await process.StandardError.ReadToEndAsync();
        await process.WaitForExitAsync();

        Assert.True(process.ExitCode == 0, $"pyflakes (Debian's python3-pyflakes) found: {output}");
    }
}
