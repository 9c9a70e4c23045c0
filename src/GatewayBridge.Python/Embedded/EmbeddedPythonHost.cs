using System.Diagnostics.Metrics;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;
using Python.Runtime;

namespace GatewayBridge.Python;

/// <summary>
/// One host's share of the process's Python interpreter: its <c>sys.path</c> entries, the apps it loaded and its
/// threads. The interpreter starts when the first app is loaded (so a bad app spec fails where it is mounted); the
/// threads start with the host and stop after its server has finished the requests in flight.
/// </summary>
internal sealed class EmbeddedPythonHost : IHostedLifecycleService, IDisposable
{
    /// <summary>Python threads in the host's interpreter when <see cref="PythonOptions.Threads"/> is not set.</summary>
    public const int DefaultThreads = 8;

    private readonly PythonOptions _options;
    private readonly string _contentRoot;
    private readonly ILoggerFactory _loggers;
    private readonly ILogger _logger;
    private readonly GatewayMetrics _metrics;
    private readonly Lock _lock = new();
    private readonly List<EmbeddedAsgiServer> _asgiServers = [];
    private PythonInterpreter? _python;
    private readonly List<(string AppSpec, string Interface)> _apps = [];
    private PythonThreads? _threads;
    private bool _stopped;

    public EmbeddedPythonHost(IOptions<PythonOptions> options, IHostEnvironment environment, ILoggerFactory loggers, IMeterFactory? meterFactory = null)
    {
        _options = options.Value;
        _contentRoot = environment.ContentRootPath;
        _loggers = loggers;
        _logger = loggers.CreateLogger<EmbeddedPythonHost>();
        _metrics = new GatewayMetrics(meterFactory);
    }

    /// <summary>The host's Python threads, started on first use.</summary>
    public PythonThreads Threads
    {
        get
        {
            lock (_lock)
            {
                ObjectDisposedException.ThrowIf(_stopped, this);
                return _threads ??= new PythonThreads(Interpreter(), _options.Threads ?? DefaultThreads, new QueueAccounting(int.MaxValue, _metrics), _loggers, _logger);
            }
        }
    }

    /// <summary>
    /// Imports <paramref name="appSpec"/> (gunicorn's <c>module:callable</c> or <c>module:factory()</c>), optionally
    /// wrapped in CPython's <c>wsgiref.validate</c>; fails with a message naming what could not be loaded.
    /// </summary>
    public PyObject LoadApp(string appSpec, bool validate, string kind = "WSGI")
    {
        var python = Interpreter();
        using (Py.GIL())
        {
            try
            {
                using var spec = new PyString(appSpec);
                var app = python.LoadApp.Invoke(spec);
                _logger.AppLoaded(appSpec);
                lock (_lock)
                {
                    _apps.Add((appSpec, kind.ToLowerInvariant()));
                }

                if (!validate)
                {
                    return app;
                }

                using (app)
                {
                    return python.Validated.Invoke(app);
                }
            }
            catch (PythonException ex)
            {
                var installation = python.Installation;
                throw new InvalidOperationException(
                    $"The Python {kind} app '{appSpec}' could not be loaded: {ex.Type.Name}: {ex.Message}. " +
                    $"Python is {installation.Executable} ({installation.Version}), with sys.path {CurrentPath()}. " +
                    "If a module is missing, set PythonOptions.Python to the python3 that has the app's packages (a virtual " +
                    "environment's bin/python3, or the system's /usr/bin/python3 for Debian's python3-* packages), and " +
                    "PythonOptions.PythonPath to the folder of the app's own modules.\n" + ex.Format(),
                    ex);
            }
        }
    }

    /// <summary>
    /// Imports the ASGI app <paramref name="appSpec"/> and starts its loop on a thread of its own; returns once the app's
    /// lifespan startup is done, or throws with the app's message.
    /// </summary>
    public EmbeddedAsgiServer StartAsgi(string appSpec)
    {
        var app = LoadApp(appSpec, validate: false, "ASGI");
        var server = EmbeddedAsgiServer.Start(Interpreter(), app, appSpec, TimeSpan.FromMinutes(1), _options.GracefulTimeout, _loggers, _logger);
        lock (_lock)
        {
            _asgiServers.Add(server);
        }

        return server;
    }

    /// <summary>The apps loaded in the host's interpreter, and their interface ("wsgi" or "asgi").</summary>
    public IReadOnlyList<(string AppSpec, string Interface)> Apps
    {
        get
        {
            lock (_lock)
            {
                return [.. _apps];
            }
        }
    }

    /// <summary>The Python threads, once a WSGI app's first request has started them; null before.</summary>
    public PythonThreads? StartedThreads
    {
        get
        {
            lock (_lock)
            {
                return _threads;
            }
        }
    }

    /// <summary>The ASGI calls in flight on the host's loops.</summary>
    public IReadOnlyList<AsgiCall> AsgiCalls
    {
        get
        {
            lock (_lock)
            {
                return _asgiServers.SelectMany(s => s.Calls).ToList();
            }
        }
    }

    public Task StartingAsync(CancellationToken cancellationToken) => Task.CompletedTask;

    public Task StartAsync(CancellationToken cancellationToken)
    {
        if (_options.Workers == 0)
        {
            _ = Threads;
        }

        return Task.CompletedTask;
    }

    public Task StartedAsync(CancellationToken cancellationToken) => Task.CompletedTask;

    public Task StoppingAsync(CancellationToken cancellationToken) => Task.CompletedTask;

    public Task StopAsync(CancellationToken cancellationToken) => Task.CompletedTask;

    // After every StopAsync, the server's included: the requests in flight have had the shutdown timeout to finish.
    // What is still running gets up to 5 s more (or what is left of the host's shutdown timeout), then an interrupt.
    public Task StoppedAsync(CancellationToken cancellationToken) => Task.Run(() => Stop(TimeSpan.FromSeconds(5), cancellationToken), CancellationToken.None);

    public void Dispose()
    {
        Stop(TimeSpan.Zero, CancellationToken.None);
        _metrics.Dispose();
    }

    private void Stop(TimeSpan grace, CancellationToken cancellationToken)
    {
        PythonThreads? threads;
        lock (_lock)
        {
            if (_stopped)
            {
                return;
            }

            _stopped = true;
            threads = _threads;
            _threads = null;
        }

        // Each ASGI loop answers what it holds and runs its lifespan shutdown (the app gets GracefulTimeout for it).
        List<EmbeddedAsgiServer> asgi;
        lock (_lock)
        {
            asgi = [.. _asgiServers];
            _asgiServers.Clear();
        }

        Parallel.ForEach(asgi, server => server.Stop(grace > TimeSpan.Zero ? _options.GracefulTimeout : TimeSpan.Zero));
        PythonHostSink.HostStopped(_loggers);
        threads?.Stop(grace, cancellationToken);
    }

    private PythonInterpreter Interpreter()
    {
        lock (_lock)
        {
            if (_python is null)
            {
                var installation = PythonInstallation.Find(_options.Python, _contentRoot);
                _python = PythonInterpreter.Get(installation, PythonLogLevels.Lowest(_loggers), _logger);
                PythonHostSink.HostStarted(_loggers);
                _python.AddPath(_options.PythonPath.Select(p => Path.GetFullPath(p, _contentRoot)));
                _logger.InterpreterStarted(installation.Version, installation.Executable, installation.Library!);
            }

            return _python;
        }
    }

    private static string CurrentPath()
    {
        using (Py.GIL())
        {
            using var sys = Py.Import("sys");
            using var path = sys.GetAttr("path");
            return path.Repr() ?? "";
        }
    }
}
