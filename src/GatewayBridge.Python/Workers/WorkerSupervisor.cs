using System.Buffers.Binary;
using System.Collections.Concurrent;
using System.Diagnostics.Metrics;
using System.Net.Sockets;
using System.Security.Cryptography;
using System.Text;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;

namespace GatewayBridge.Python;

/// <summary>
/// One host's Python worker processes (<c>PythonWsgiOptions.Workers</c> ≥ 1): a private folder holding the shim
/// modules and the Unix socket workers connect to, a pool of workers per mounted app, and a watchdog for calls
/// that run too long. Workers are started where their app is mounted (so an app that cannot be imported stops the
/// host's startup) and stopped after the server has drained its requests.
/// </summary>
internal sealed class WorkerSupervisor : IHostedLifecycleService, IPythonWorkers, IAsyncDisposable, IDisposable
{
    private static readonly string[] ShimModules = ["gatewaybridge_wsgi.py", "gatewaybridge_host.py", "gatewaybridge_frames.py", "gatewaybridge_worker.py", "gatewaybridge_asgi.py"];

    private readonly string _contentRoot;
    private readonly Lock _lock = new();
    private readonly List<WorkerPool> _pools = [];
    private readonly ConcurrentDictionary<string, Expected> _expected = new();
    private readonly CancellationTokenSource _stopping = new();
    private Socket? _listener;
    private DirectoryInfo? _folder;
    private PythonInstallation? _installation;
    private Task? _stop;

    public WorkerSupervisor(IOptions<PythonWsgiOptions> options, IHostEnvironment environment, ILoggerFactory loggers, IMeterFactory? meterFactory = null)
    {
        Options = options.Value;
        _contentRoot = environment.ContentRootPath;
        Loggers = loggers;
        Logger = loggers.CreateLogger<WorkerSupervisor>();
        GatewayMetrics = new GatewayMetrics(meterFactory);
        Metrics = new PythonWorkerMetrics(meterFactory);
        PythonLogLevel = PythonLogLevels.ToPython(PythonLogLevels.Lowest(loggers));
    }

    public PythonWsgiOptions Options { get; }

    public ILoggerFactory Loggers { get; }

    public ILogger Logger { get; }

    public GatewayMetrics GatewayMetrics { get; }

    public PythonWorkerMetrics Metrics { get; }

    public int PythonLogLevel { get; }

    /// <summary>The secret a worker checks the host's answer against, so that it serves no one else.</summary>
    public string HostToken { get; } = Convert.ToHexString(RandomNumberGenerator.GetBytes(32));

    public PythonInstallation Installation => _installation ?? throw new InvalidOperationException("The supervisor has not started.");

    public string RuntimeFolder => _folder?.FullName ?? throw new InvalidOperationException("The supervisor has not started.");

    public string SocketPath => Path.Combine(RuntimeFolder, "workers.sock");

    public string WorkerScript => Path.Combine(RuntimeFolder, "gatewaybridge_worker.py");

    /// <summary>Folders put first on a worker's <c>sys.path</c>, as in the host's own interpreter.</summary>
    public IReadOnlyList<string> PythonPath => Options.PythonPath.Select(p => Path.GetFullPath(p, _contentRoot)).ToList();

    /// <summary>The pools, for the health check.</summary>
    public IReadOnlyList<WorkerPool> Pools
    {
        get
        {
            lock (_lock)
            {
                return [.. _pools];
            }
        }
    }

    /// <summary>Starts the app's workers and waits until each has loaded it; throws with the app's traceback if one cannot.</summary>
    public WorkerPool CreatePool(string appSpec, bool validate, int queueLimit, bool asgi = false)
    {
        EnsureStarted();
        var pool = new WorkerPool(this, appSpec, validate, queueLimit, asgi);

        // Mounting happens while the host is configured, before anything serves: waiting here is what lets a bad app
        // stop the startup with its own traceback.
        pool.StartAsync(_stopping.Token).GetAwaiter().GetResult();
        lock (_lock)
        {
            _pools.Add(pool);
        }

        return pool;
    }

    private void EnsureStarted()
    {
        lock (_lock)
        {
            ObjectDisposedException.ThrowIf(_stop is not null, this);
            if (_listener is not null)
            {
                return;
            }

            if (!OperatingSystem.IsLinux())
            {
                // SO_PEERCRED, /proc and the signals the workers take are Linux's.
                throw new PlatformNotSupportedException("Python worker processes (PythonWsgiOptions.Workers) need Linux; on other systems, set Workers to 0.");
            }

            _installation = PythonInstallation.Find(Options.Python, _contentRoot, requireLibrary: false);

            // mkdtemp: a folder only this user can open, so nobody else can reach the socket or the shim modules.
            _folder = Directory.CreateTempSubdirectory("gatewaybridge-");
            WriteShimModules(_folder.FullName);

            var listener = new Socket(AddressFamily.Unix, SocketType.Stream, ProtocolType.Unspecified);
            listener.Bind(new UnixDomainSocketEndPoint(SocketPath));
            listener.Listen(64);
            _listener = listener;
            _ = AcceptAsync(listener);
            if (Options.Timeout is { } timeout)
            {
                _ = WatchAsync(timeout);
            }

            Logger.WorkersStarting(_installation.Version, _installation.Executable, Options.Workers, Options.Threads ?? 1);
        }
    }

    /// <summary>Writes the Python modules a worker runs into <paramref name="folder"/>; returns the worker's script.</summary>
    public static string WriteShimModules(string folder)
    {
        foreach (var module in ShimModules)
        {
            using var resource = typeof(WorkerSupervisor).Assembly.GetManifestResourceStream(module)
                ?? throw new InvalidOperationException($"The resource {module} is missing from GatewayBridge.Python.");
            using var file = File.Create(Path.Combine(folder, module));
            resource.CopyTo(file);
        }

        return Path.Combine(folder, "gatewaybridge_worker.py");
    }

    /// <summary>The connection of the worker started with <paramref name="token"/>, once it has proven itself.</summary>
    public Task<Socket> ExpectConnection(string token)
    {
        var expected = new Expected();
        _expected[token] = expected;
        return expected.Connection.Task;
    }

    /// <summary>Forgets the worker of <paramref name="token"/>, which did not start.</summary>
    public void Forget(string token) => _expected.TryRemove(token, out _);

    /// <summary>The pid the worker of <paramref name="token"/> must connect from.</summary>
    public void ExpectPid(string token, int pid)
    {
        if (_expected.TryGetValue(token, out var expected))
        {
            expected.Pid.TrySetResult(pid);
        }
    }

    private async Task AcceptAsync(Socket listener)
    {
        while (!_stopping.IsCancellationRequested)
        {
            Socket socket;
            try
            {
                socket = await listener.AcceptAsync(_stopping.Token).ConfigureAwait(false);
            }
            catch (Exception ex) when (ex is OperationCanceledException or ObjectDisposedException or SocketException)
            {
                return;
            }

            _ = VerifyAsync(socket);
        }
    }

    // A connection counts only if its first frame is the HELLO of a worker this host started, carrying that worker's
    // secret, from that worker's pid (the kernel's SO_PEERCRED, not anything the peer says). Anything else is closed.
    private async Task VerifyAsync(Socket socket)
    {
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(10));
        try
        {
            var header = new byte[WorkerFrames.HeaderSize];
            await ReceiveExactlyAsync(socket, header, timeout.Token).ConfigureAwait(false);
            var length = BinaryPrimitives.ReadInt32LittleEndian(header);
            if (header[4] != WorkerFrames.Hello || length is <= 0 or > 256)
            {
                throw new InvalidDataException("its first frame is not a worker's HELLO");
            }

            var payload = new byte[length];
            await ReceiveExactlyAsync(socket, payload, timeout.Token).ConfigureAwait(false);
            var token = Encoding.ASCII.GetString(payload);
            if (!_expected.TryRemove(token, out var expected))
            {
                throw new InvalidDataException("it did not carry the secret of a worker this host started");
            }

            var pid = await expected.Pid.Task.WaitAsync(timeout.Token).ConfigureAwait(false);
            var peer = PeerPid(socket);
            if (peer != pid)
            {
                throw new InvalidDataException($"it came from pid {peer}, not from the worker's pid {pid}");
            }

            expected.Connection.TrySetResult(socket);
        }
        catch (Exception ex) when (ex is InvalidDataException or OperationCanceledException or SocketException)
        {
            Logger.UnexpectedConnection(ex.Message);
            socket.Dispose();
        }
    }

    private static async Task ReceiveExactlyAsync(Socket socket, Memory<byte> buffer, CancellationToken cancellationToken)
    {
        while (!buffer.IsEmpty)
        {
            var read = await socket.ReceiveAsync(buffer, SocketFlags.None, cancellationToken).ConfigureAwait(false);
            if (read == 0)
            {
                throw new InvalidDataException("it closed before its HELLO was complete");
            }

            buffer = buffer[read..];
        }
    }

    private static int PeerPid(Socket socket)
    {
        // struct ucred { pid_t pid; uid_t uid; gid_t gid; } for SOL_SOCKET (1), SO_PEERCRED (17).
        Span<byte> credentials = stackalloc byte[12];
        socket.GetRawSocketOption(1, 17, credentials);
        return BinaryPrimitives.ReadInt32LittleEndian(credentials);
    }

    private async Task WatchAsync(TimeSpan timeout)
    {
        var interval = TimeSpan.FromTicks(Math.Clamp(timeout.Ticks / 10, TimeSpan.FromMilliseconds(50).Ticks, TimeSpan.FromSeconds(1).Ticks));
        using var timer = new PeriodicTimer(interval);
        var handled = new HashSet<WorkerProcess>();
        try
        {
            while (await timer.WaitForNextTickAsync(_stopping.Token).ConfigureAwait(false))
            {
                foreach (var pool in Pools)
                {
                    foreach (var (worker, call) in pool.StuckCalls(timeout))
                    {
                        if (handled.Add(worker))
                        {
                            _ = worker.TimeOutAsync(call, timeout);
                        }
                    }
                }

                handled.RemoveWhere(w => w.Exited.IsCompleted);
            }
        }
        catch (OperationCanceledException)
        {
        }
    }

    /// <inheritdoc/>
    public async Task ReloadAsync(CancellationToken cancellationToken = default)
    {
        foreach (var pool in Pools)
        {
            await pool.ReloadAsync(cancellationToken).ConfigureAwait(false);
        }
    }

    public Task StartingAsync(CancellationToken cancellationToken) => Task.CompletedTask;

    public Task StartAsync(CancellationToken cancellationToken) => Task.CompletedTask;

    public Task StartedAsync(CancellationToken cancellationToken) => Task.CompletedTask;

    public Task StoppingAsync(CancellationToken cancellationToken) => Task.CompletedTask;

    public Task StopAsync(CancellationToken cancellationToken) => Task.CompletedTask;

    // After every StopAsync, the server's included: the requests in flight have had the host's shutdown timeout to
    // finish. Each worker gets GracefulTimeout to finish what it holds and run its atexit handlers.
    public Task StoppedAsync(CancellationToken cancellationToken) => StopWorkersAsync(Options.GracefulTimeout);

    // Once: a later call (the container's disposal after the host's stop) waits for the same stop.
    private Task StopWorkersAsync(TimeSpan grace)
    {
        lock (_lock)
        {
            return _stop ??= StopAllAsync([.. _pools], grace);
        }
    }

    private async Task StopAllAsync(List<WorkerPool> pools, TimeSpan grace)
    {
        await Task.WhenAll(pools.Select(p => p.StopAsync(grace))).ConfigureAwait(false);
        await _stopping.CancelAsync().ConfigureAwait(false);
        _listener?.Dispose();
        try
        {
            _folder?.Delete(recursive: true);
        }
        catch (IOException)
        {
        }
    }

    // A container disposed synchronously (a WebApplicationFactory's) asks for this one.
    public void Dispose() => DisposeAsync().AsTask().GetAwaiter().GetResult();

    public async ValueTask DisposeAsync()
    {
        // A host disposed without being stopped (a failed startup, a test) still ends its workers.
        await StopWorkersAsync(TimeSpan.Zero).ConfigureAwait(false);
        GatewayMetrics.Dispose();
        Metrics.Dispose();
        _stopping.Dispose();
    }

    private sealed class Expected
    {
        public TaskCompletionSource<Socket> Connection { get; } = new(TaskCreationOptions.RunContinuationsAsynchronously);

        public TaskCompletionSource<int> Pid { get; } = new(TaskCreationOptions.RunContinuationsAsynchronously);
    }
}
