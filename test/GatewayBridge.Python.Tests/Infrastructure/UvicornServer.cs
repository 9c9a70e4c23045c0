using System.Diagnostics;
using System.Net;
using System.Net.Sockets;

namespace GatewayBridge.Python.Tests.Infrastructure;

/// <summary>
/// uvicorn (Debian's python3-uvicorn 0.17.6) serving the scope-dumping ASGI test app with <c>--root-path /prefix</c>,
/// as it runs behind a proxy that strips the prefix: the reference for GatewayBridge's ASGI scope.
/// </summary>
public sealed class UvicornServer : IAsyncLifetime
{
    private Process? _process;

    public int Port { get; private set; }

    public async Task InitializeAsync()
    {
        using (var probe = new TcpListener(IPAddress.Loopback, 0))
        {
            probe.Start();
            Port = ((IPEndPoint)probe.LocalEndpoint).Port;
        }

        var start = new ProcessStartInfo(PythonTestHost.Python,
            ["-m", "uvicorn", "--host", "127.0.0.1", "--port", Port.ToString(System.Globalization.CultureInfo.InvariantCulture), "--app-dir", PythonTestHost.AppsFolder,
             "--root-path", "/prefix", "--no-access-log", "asgi_apps:dump"])
        {
            RedirectStandardError = true,
            RedirectStandardOutput = true,
        };
        _process = Process.Start(start)!;
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(30));
        while (await _process.StandardError.ReadLineAsync(timeout.Token) is { } line)
        {
            if (line.Contains("Uvicorn running on", StringComparison.Ordinal))
            {
                _ = _process.StandardError.ReadToEndAsync(CancellationToken.None);
                return;
            }
        }

        throw new InvalidOperationException("uvicorn did not start; is python3-uvicorn installed?");
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
}
