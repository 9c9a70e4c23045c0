using System.Diagnostics;

namespace GatewayBridge.Python;

/// <summary>Tells a WSGI app from an ASGI one by what its callable looks like, as the serve tool's <c>--interface</c> defaults.</summary>
internal static class PythonAppInterface
{
    // os._exit: threads the app started at import (a scheduler, a spinning thread) must not keep the probe alive.
    private const string Probe = """
        import os, sys, traceback
        sys.path[:0] = sys.argv[2:]
        try:
            from gatewaybridge import apps
            kind = apps.interface_of(apps.load_app(sys.argv[1]))
        except BaseException:
            traceback.print_exc()
            sys.stderr.flush()
            os._exit(1)
        print()
        print(kind, flush=True)
        os._exit(0)
        """;

    /// <summary>
    /// "asgi" for a coroutine function or an object whose <c>__call__</c> is one (Starlette, FastAPI, Django's
    /// ASGIHandler), else "wsgi". The app is imported by <paramref name="python"/> in a process of its own, so that
    /// neither this process's interpreter nor its workers are touched; one that cannot be imported throws, with its error.
    /// </summary>
    public static string Detect(string python, IReadOnlyList<string> pythonPath, string appSpec)
    {
        var installation = PythonInstallation.Find(python, Directory.GetCurrentDirectory(), requireLibrary: false);
        var folder = Directory.CreateTempSubdirectory("gatewaybridge-probe-");
        try
        {
            PythonShim.Write(folder.FullName);
            var start = new ProcessStartInfo(installation.Executable) { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
            start.ArgumentList.Add("-c");
            start.ArgumentList.Add(Probe);
            start.ArgumentList.Add(appSpec);
            foreach (var path in pythonPath.Prepend(folder.FullName))
            {
                start.ArgumentList.Add(path);
            }

            using var process = Process.Start(start) ?? throw new InvalidOperationException($"Could not start '{installation.Executable}'.");
            var output = process.StandardOutput.ReadToEndAsync();
            var error = process.StandardError.ReadToEndAsync();
            if (!process.WaitForExit(TimeSpan.FromMinutes(1)))
            {
                process.Kill();
                throw new InvalidOperationException($"Importing '{appSpec}' to tell WSGI from ASGI took over a minute; give --interface.");
            }

            var lines = output.GetAwaiter().GetResult().Split('\n', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries);
            return process.ExitCode == 0 && lines.Length > 0 && lines[^1] is "asgi" or "wsgi"
                ? lines[^1]
                : throw new InvalidOperationException($"The Python app '{appSpec}' could not be loaded: {error.GetAwaiter().GetResult().Trim()}");
        }
        finally
        {
            folder.Delete(recursive: true);
        }
    }
}
