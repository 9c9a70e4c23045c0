using System.Diagnostics;
using System.Text.RegularExpressions;

namespace GatewayBridge.Python.Tests.Infrastructure;

/// <summary>gunicorn (Debian's python3-gunicorn, one sync worker) serving a test app on a free loopback port.</summary>
public sealed partial class GunicornServer : IAsyncLifetime
{
    private readonly string _app;
    private readonly string[] _options;
    private Process? _process;

    public GunicornServer()
        : this("wsgi_apps:dump")
    {
    }

    /// <summary>gunicorn serving <paramref name="app"/> with more <paramref name="options"/> (started by <see cref="InitializeAsync"/>).</summary>
    internal GunicornServer(string app, params string[] options)
    {
        _app = app;
        _options = options;
    }

    public int Port { get; private set; }

    public async Task InitializeAsync()
    {
        var start = new ProcessStartInfo(PythonTestHost.Python, ["-m", "gunicorn", "--workers", "1", "--bind", "127.0.0.1:0", "--chdir", PythonTestHost.AppsFolder, .. _options, _app])
        {
            RedirectStandardError = true,
            RedirectStandardOutput = true,
        };
        _process = Process.Start(start)!;
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(30));
        while (await _process.StandardError.ReadLineAsync(timeout.Token) is { } line)
        {
            if (ListeningAt().Match(line) is { Success: true } match)
            {
                Port = int.Parse(match.Groups[1].Value, System.Globalization.CultureInfo.InvariantCulture);
                _ = _process.StandardError.ReadToEndAsync(CancellationToken.None);
                return;
            }
        }

        throw new InvalidOperationException("gunicorn did not start; is python3-gunicorn installed?");
    }

    public Task DisposeAsync()
    {
        if (_process is { HasExited: false })
        {
            _process.Kill(entireProcessTree: true);
        }

        _process?.Dispose();
        return Task.CompletedTask;
    }

    [GeneratedRegex(@"Listening at: http://127\.0\.0\.1:(\d+)")]
    private static partial Regex ListeningAt();
}
