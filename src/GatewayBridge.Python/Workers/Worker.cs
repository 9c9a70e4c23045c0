using System.Diagnostics;
using System.Diagnostics.CodeAnalysis;
using System.Runtime.InteropServices;
using System.Security.Cryptography;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.Logging;

namespace GatewayBridge.Python;

/// <summary>
/// One Python worker process: started, proven and configured by the host, then serving the calls its pool opens on its
/// connection until it is retired, stopped or dies; its <see cref="WorkerLife"/> says which. Everything it writes to
/// stdout and stderr is logged line by line, with its pid.
/// </summary>
/// <remarks>
/// More than 400 lines on purpose: one process's life (start, proof, frames, retire, stop, kill, exit) shares its state.
/// </remarks>
[SuppressMessage("Design", "CA1001:Types that own disposable fields should be disposable", Justification = "The connection is disposed when the process exits, which every path to the end of a worker waits for.")]
internal sealed class Worker
{
    private const int SigUsr1 = 10;
    private const int SigKill = 9;

    private readonly WorkerRuntime _runtime;
    private readonly WorkerSettings _settings;
    private readonly WorkerEvents _events;
    private readonly ILogger _logger;
    private readonly ILoggerFactory _loggers;
    private readonly TaskCompletionSource<int> _exited = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private readonly TaskCompletionSource _readerDone = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private readonly string _tracebackFile;
    private readonly string _scoreboard;
    private readonly Lock _connectionLock = new();
    private readonly WorkerTemplate? _template;
    private ForkedProcess? _forked;
    private Process? _process;
    private FramedConnection? _connection;
    private int _served;
    private int _limitReported;

    // template: the template it is forked from (a preloaded app), or null to start a process of its own.
    public Worker(WorkerRuntime runtime, WorkerSettings settings, WorkerEvents events, string name, int requestLimit, ILoggerFactory loggers, ILogger logger, WorkerTemplate? template = null)
    {
        _template = template;
        _runtime = runtime;
        _settings = settings;
        _events = events;
        Name = name;
        RequestLimit = requestLimit;
        _loggers = loggers;
        _logger = logger;
        _tracebackFile = Path.Combine(runtime.Folder, $"traceback-{name}");
        _scoreboard = Path.Combine(runtime.Folder, $"scoreboard-{name}");
        Requests = settings.Asgi ? null : new RequestQueue();
    }

    /// <summary>A WSGI worker's requests that none of its threads has taken yet; an ASGI worker has none.</summary>
    public RequestQueue? Requests { get; }

    /// <summary>Names the worker's files in the runtime folder.</summary>
    public string Name { get; }

    public int Pid { get; private set; }

    /// <summary>When it started serving.</summary>
    public DateTimeOffset? ServingSince { get; private set; }

    /// <summary>Its state, and why.</summary>
    public WorkerLife Life { get; } = new();

    /// <summary>The requests after which it is replaced (<c>MaxRequests</c> plus jitter), or 0.</summary>
    public int RequestLimit { get; }

    /// <summary>The calls it has finished.</summary>
    public int Served => Volatile.Read(ref _served);

    /// <summary>The calls open on it.</summary>
    public int OpenCalls => _connection?.OpenCalls ?? 0;

    public IEnumerable<FramedCall> Calls => _connection?.Calls ?? [];

    /// <summary>Completed with the exit status once the process has ended.</summary>
    public Task<int> Exited => _exited.Task;

    /// <summary>Starts the process and waits for its app to be imported; throws <see cref="WorkerStartException"/> with the app's traceback.</summary>
    public async Task StartAsync(CancellationToken cancellationToken)
    {
        var secret = Convert.ToHexString(RandomNumberGenerator.GetBytes(32));
        await File.WriteAllBytesAsync(_scoreboard, new byte[4096], cancellationToken).ConfigureAwait(false);

        var connection = _runtime.ExpectConnection(secret);
        try
        {
            if (_template is null)
            {
                _process = WorkerProcess.Start(_runtime, secret, _loggers, OnExit);
                Pid = _process.Id;
            }
            else
            {
                // Forked from the template of a preloaded app: the same secret, proof and connection as a started worker.
                var pid = await _template.ForkAsync(secret, OnForkedExit, cancellationToken).ConfigureAwait(false);

                // Held by a pidfd before anything signals it: its template reaps it, and its pid may be taken again.
                _forked = ForkedProcess.Open(pid, _template.Pid) ?? throw new WorkerStartException(pid, "ended as its template forked it", "");
                Pid = pid;
            }
        }
        catch
        {
            _runtime.Forget(secret);
            throw;
        }

        _runtime.ExpectPid(secret, Pid);

        using var timeout = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        timeout.CancelAfter(_settings.StartTimeout);
        var first = await Task.WhenAny(connection, Exited, Task.Delay(_settings.StartTimeout, timeout.Token)).ConfigureAwait(false);
        if (first != connection)
        {
            // A connection verified after this start gave up is closed, not left open.
            _runtime.Forget(secret);
            _ = connection.ContinueWith(static c => c.Result.Dispose(), CancellationToken.None, TaskContinuationOptions.OnlyOnRanToCompletion, TaskScheduler.Default);
            throw new WorkerStartException(Pid, Exited.IsCompleted
                ? $"exited with {DescribeExit(Exited.Result)} before it connected to the host"
                : $"did not connect to the host within {_settings.StartTimeout.TotalSeconds:0} s", "");
        }

        // A worker that speaks another version of the protocol fails here, with both versions and its module's path.
        var socket = await connection.ConfigureAwait(false);
        lock (_connectionLock)
        {
            if (Exited.IsCompleted)
            {
                socket.Dispose();
                throw new WorkerStartException(Pid, $"exited with {DescribeExit(Exited.Result)} as it connected to the host", "");
            }

            _connection = new FramedConnection(socket);
        }

        var config = FrameWriter.Json(FrameType.Config, _settings.Config(new WorkerFiles(_tracebackFile, _scoreboard, Requests?.MessageLimit ?? 0)));
        if (Requests is not null)
        {
            _connection.SendWithDescriptors(config, Requests.WorkerEnd);
        }
        else
        {
            _connection.Send(config);
        }

        var ready = new TaskCompletionSource<string>(TaskCreationOptions.RunContinuationsAsynchronously);
        _connection.StartReading((type, flags, id, payload) => OnControl(type, id, payload, ready), OnCallEnded, error => OnClosed(error, ready));
        using (timeout.Token.Register(() => ready.TrySetException(new WorkerStartException(Pid, $"did not load the app within {_settings.StartTimeout.TotalSeconds:0} s", ""))))
        {
            var python = await ready.Task.ConfigureAwait(false);
            Life.Serve();
            ServingSince = DateTimeOffset.UtcNow;
            _logger.WorkerStarted(_settings.AppSpec, Pid, python);
        }
    }

    /// <summary>Its connection, where its pool opens calls.</summary>
    public FramedConnection Connection => _connection ?? throw new InvalidOperationException("The worker has not started.");

    private void OnControl(FrameType type, uint id, ReadOnlySpan<byte> payload, TaskCompletionSource<string> ready)
    {
        switch (type)
        {
            case FrameType.Ready:
                using (var json = FrameReader.ReadJson(payload))
                {
                    var info = json.RootElement;
                    var version = info.TryGetProperty("version", out var v) && v.TryGetInt32(out var n) ? n : 0;
                    var module = info.TryGetProperty("module", out var m) ? m.GetString() : null;
                    if (version != WorkerProtocol.Version)
                    {
                        ready.TrySetException(new WorkerStartException(Pid, VersionMismatch(version, module), ""));
                        return;
                    }

                    ready.TrySetResult(info.TryGetProperty("python", out var p) ? p.GetString() ?? "" : "");
                }

                break;
            case FrameType.Failed:
                ready.TrySetException(new WorkerStartException(Pid, "could not load the app", FrameReader.ReadText(payload)));
                break;
            case FrameType.Log:
                OnLog(id, payload);
                break;
            case FrameType.Retire:
                _events.RetireAsked(this, RetireReason.Memory);
                break;
            case FrameType.Goodbye:
                _events.RetireAsked(this, RetireReason.Signal);
                break;
            default:
                throw new InvalidDataException($"a {type} frame after the worker was connected");
        }
    }

    /// <summary>What the log says of a server that speaks another version of the protocol.</summary>
    public static string VersionMismatch(int version, string? module) =>
        $"speaks version {version} of the worker protocol ({module ?? "a module that did not say where it is"}); this host speaks version {WorkerProtocol.Version}";

    private void OnCallEnded(FramedCall call)
    {
        var served = Interlocked.Increment(ref _served);
        _events.CallEnded(this);
        if (RequestLimit > 0 && served >= RequestLimit && Interlocked.Exchange(ref _limitReported, 1) == 0)
        {
            _events.RetireAsked(this, RetireReason.MaxRequests);
        }

        if (Life.State == WorkerState.Retiring && OpenCalls == 0)
        {
            _ = StopAsync(_settings.GracefulTimeout);
        }
    }

    private void OnClosed(Exception? error, TaskCompletionSource<string> ready)
    {
        _readerDone.TrySetResult();
        if (error is not null and not System.Net.Sockets.SocketException and not ObjectDisposedException)
        {
            // A worker that breaks the protocol cannot be trusted with the next request either.
            _logger.WorkerProtocolError(Pid, error.Message);
        }

        // Without its connection a worker can answer nothing: it is ended, and its exit fails what it held. One told
        // to stop closes it on its way out: its atexit handlers get the rest of GracefulTimeout.
        if (Life.State != WorkerState.Stopping)
        {
            Kill();
        }

        ready.TrySetException(new WorkerStartException(Pid, error?.Message ?? "closed its connection before it was ready", ""));
    }

    private void OnLog(uint callId, ReadOnlySpan<byte> payload)
    {
        var (kind, level, name, message, detail) = FrameReader.ReadLog(payload);
        using var scope = _logger.BeginScope(new WorkerScope(Pid));
        if (kind == LogKind.Line)
        {
            _loggers.CreateLogger(ErrorsTextWriter.Category).AppErrorsLine(message);
            return;
        }

        var mapped = PythonLogLevels.FromPython(level);
        var logger = _loggers.CreateLogger(name);
        if (logger.IsEnabled(mapped))
        {
            logger.PythonRecord(mapped, message, detail.Length == 0 ? null : new PythonAppException(name, message, detail));
        }
    }

    /// <summary>
    /// Serving → Retiring: it takes nothing new (its pool has let it go), and stops once what it holds is done. An ASGI
    /// worker may hold a WebSocket or a stream for hours: it is told to stop at once, and gets GracefulTimeout from now.
    /// </summary>
    public void Retire(RetireReason reason)
    {
        if (Life.Retire(reason) && (_settings.Asgi || OpenCalls == 0))
        {
            _ = StopAsync(_settings.GracefulTimeout);
        }
    }

    /// <summary>Asks the worker to finish what it holds and exit; kills it if it has not after <paramref name="grace"/>.</summary>
    public async Task StopAsync(TimeSpan grace)
    {
        if (Life.Stop())
        {
            _connection?.Send(FrameWriter.Frame(FrameType.Stop));
        }

        if (await Task.WhenAny(Exited, Task.Delay(grace)).ConfigureAwait(false) != Exited)
        {
            _logger.WorkerKilled(Pid, grace.TotalSeconds);
            Kill();
            await Exited.ConfigureAwait(false);
        }
    }

    /// <summary>
    /// A call ran app code for longer than the timeout: the worker's Python tracebacks are logged, the call answers 504
    /// (or is cut, once its response started), and the worker is killed; its other calls fail with 502.
    /// </summary>
    public async Task TimeOutAsync(FramedCall call, TimeSpan timeout)
    {
        Life.Stop(RetireReason.Timeout);
        var traceback = await DumpTracebacksAsync().ConfigureAwait(false);
        _logger.WorkerTimedOut(call.Path, Pid, timeout.TotalSeconds, traceback);
        _connection?.Fail(call, TransportFailure.Worker(Pid, $"ran app code longer than the timeout of {timeout.TotalSeconds:0.#} s", StatusCodes.Status504GatewayTimeout));
        Kill();
    }

    // faulthandler in the worker writes every thread's traceback to a file of the host's when it gets SIGUSR1,
    // from its C signal handler: it works while the stuck thread holds the GIL or sits in C code.
    private async Task<string> DumpTracebacksAsync()
    {
        try
        {
            if (!Signal(SigUsr1))
            {
                return "";
            }

            // faulthandler writes from its signal handler, with no end marker: the file is read again until it has been
            // there for a few looks (the dump of a few threads takes well under the 50 ms of two).
            for (var i = 0; i < 20; i++)
            {
                await Task.Delay(25).ConfigureAwait(false);
                var text = File.Exists(_tracebackFile) ? await File.ReadAllTextAsync(_tracebackFile).ConfigureAwait(false) : "";
                if (text.Length > 0 && i > 1)
                {
                    return text;
                }
            }
        }
        catch (IOException)
        {
        }

        return "";
    }

    public void Kill()
    {
        try
        {
            if (_template is null)
            {
                _process?.Kill();
            }
            else if (!Exited.IsCompleted)
            {
                // Not this host's child: by its pidfd, until its template has reported its end.
                _ = _forked?.Signal(SigKill);
            }
        }
        catch (InvalidOperationException)
        {
            // Already gone.
        }
    }

    // A forked worker's end, as its template reports it; -1 when the template died first: the worker (someone else's
    // child now) has ended once its pid is gone or a zombie.
    private void OnForkedExit(int status)
    {
        if (status >= 0)
        {
            OnExit(status);
            return;
        }

        _ = Task.Run(async () =>
        {
            while (ForkedProcess.Stat(Pid) is { State: not 'Z' })
            {
                await Task.Delay(100).ConfigureAwait(false);
            }

            OnExit(-1);
        });
    }

    private void OnExit(int status)
    {
        if (Life.Exit() is not { } exit)
        {
            return;
        }

        var (was, reason) = exit;
        var held = OpenCalls;

        FramedConnection? connection;
        lock (_connectionLock)
        {
            // Exited first: a request retried from here must not be given this worker again.
            _exited.TrySetResult(status);
            connection = _connection;
        }

        TakeBackQueued(connection, status);
        _ = CloseAsync(connection, status);

        DeleteFile(_tracebackFile);
        DeleteFile(_scoreboard);
        _forked?.Dispose();
        _events.Exited(this, new WorkerExit(status, was, reason, held));
    }

    // A WSGI request still in the worker's queue goes to another worker; one it took, and an ASGI call, is never sent
    // twice (it may have run, or its body may already be in the app).
    private void TakeBackQueued(FramedConnection? connection, int status)
    {
        foreach (var id in Requests?.TakeBack() ?? [])
        {
            connection?.FailNeverSent(id, TransportFailure.Worker(Pid, $"exited with {DescribeExit(status)}"));
        }
    }

    // What the worker sent before it died is read first (answers it finished, a Failed frame with the app's traceback,
    // its last log records): the reader ends at the end of the socket, unless a child the app started holds it open.
    // Then what it held and never answered fails.
    private async Task CloseAsync(FramedConnection? connection, int status)
    {
        await Task.WhenAny(_readerDone.Task, Task.Delay(TimeSpan.FromSeconds(1))).ConfigureAwait(false);

        // A request sent while it was dying goes to another worker too.
        TakeBackQueued(connection, status);
        connection?.FailAll(TransportFailure.Worker(Pid, $"exited with {DescribeExit(status)}"));
        connection?.Dispose();
        Requests?.Dispose();
    }

    private static void DeleteFile(string path)
    {
        try
        {
            File.Delete(path);
        }
        catch (IOException)
        {
        }
    }

    /// <summary>
    /// The id of the last request a thread of the worker took from its queue, from the scoreboard it writes before running
    /// the app: the requests it holds up to that id are running, those above it wait in its queue.
    /// </summary>
    public uint LastStarted()
    {
        try
        {
            Span<byte> id = stackalloc byte[4];
            using var file = File.OpenHandle(_scoreboard);
            return RandomAccess.Read(file, id, 0) == 4 ? BitConverter.ToUInt32(id) : uint.MaxValue;
        }
        catch (IOException)
        {
            // Unknown: every request it held counts as started, which never runs one twice.
            return uint.MaxValue;
        }
    }

    /// <summary>"status 1", or "signal 9 (SIGKILL)" for a process a signal ended (.NET reports 128 + the signal).</summary>
    public static string DescribeExit(int status) => status < 0 ? "an unknown status (its template ended first)"
        : status > 128 && status < 160
        ? $"signal {status - 128}{(status - 128) switch { 9 => " (SIGKILL)", 15 => " (SIGTERM)", 11 => " (SIGSEGV)", 6 => " (SIGABRT)", _ => "" }}"
        : $"status {status}";

    // A started worker is the host's child (its pid is the host's to reap), a forked one is held by its pidfd.
    private bool Signal(int signal) => _forked?.Signal(signal) ?? SendSignal(Pid, signal) == 0;

    [DllImport("libc", EntryPoint = "kill", SetLastError = true)]
    [DefaultDllImportSearchPaths(DllImportSearchPath.SafeDirectories)]
    private static extern int SendSignal(int pid, int signal);

    private sealed class WorkerScope(int pid) : IReadOnlyList<KeyValuePair<string, object?>>
    {
        public int Count => 1;

        public KeyValuePair<string, object?> this[int index] => index == 0 ? new("WorkerPid", pid) : throw new ArgumentOutOfRangeException(nameof(index));

        public IEnumerator<KeyValuePair<string, object?>> GetEnumerator()
        {
            yield return this[0];
        }

        System.Collections.IEnumerator System.Collections.IEnumerable.GetEnumerator() => GetEnumerator();

        public override string ToString() => $"WorkerPid:{pid}";
    }
}
