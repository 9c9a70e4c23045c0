using System.Collections.Concurrent;
using System.Diagnostics;
using System.Diagnostics.CodeAnalysis;
using System.Runtime.InteropServices;
using System.Security.Cryptography;
using System.Text;
using System.Text.Json;
using Microsoft.Extensions.Logging;

namespace GatewayBridge.Python;

/// <summary>
/// One Python worker process and its connection: started, proven and configured by the host, then serving the
/// requests its pool hands it until it is stopped, replaced or dies. Everything it writes to stdout and stderr is
/// logged line by line, with its pid.
/// </summary>
/// <remarks>
/// More than 400 lines on purpose: one process's life (start, proof, frames, stop, kill, exit) shares its state.
/// </remarks>
[SuppressMessage("Design", "CA1001:Types that own disposable fields should be disposable", Justification = "The connection is disposed when the process exits, which every path to the end of a worker waits for.")]
internal sealed class WorkerProcess
{
    private const int SigUsr1 = 10;

    private readonly WorkerPool _pool;
    private readonly ILogger _logger;
    private readonly ILoggerFactory _loggers;
    private readonly ConcurrentDictionary<uint, IWorkerCall> _calls = new();
    private readonly TaskCompletionSource<int> _exited = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private readonly string _tracebackFile;
    private readonly string _scoreboard;
    private Process? _process;
    private WorkerConnection? _connection;
    private readonly Lock _dispatchLock = new();
    private uint _lastId;
    private int _exitHandled;
    private volatile bool _dead;
    private volatile bool _stopping;

    public WorkerProcess(WorkerPool pool, int index, ILoggerFactory loggers, ILogger logger)
    {
        _pool = pool;
        Index = index;
        _loggers = loggers;
        _logger = logger;
        _tracebackFile = Path.Combine(pool.Supervisor.RuntimeFolder, $"traceback-{pool.Id}-{index}");
        _scoreboard = Path.Combine(pool.Supervisor.RuntimeFolder, $"scoreboard-{pool.Id}-{index}");
    }

    /// <summary>The worker's number in its pool, for names; a replacement gets a new one.</summary>
    public int Index { get; }

    public int Pid { get; private set; }

    /// <summary>Requests this worker has taken and not yet finished (its pool's bookkeeping, under the pool's lock).</summary>
    public int InFlight { get; set; }

    /// <summary>When it last took its first request or finished one (a timestamp; under the pool's lock).</summary>
    public long Progress { get; set; }

    /// <summary>Requests this worker has finished (under the pool's lock).</summary>
    public int Served { get; set; }

    /// <summary>The requests after which it is replaced (<c>MaxRequests</c> plus jitter), or 0.</summary>
    public int RequestLimit { get; init; }

    /// <summary>Serving: started, and neither retiring nor gone (under the pool's lock).</summary>
    public bool IsServing { get; set; }

    /// <summary>Why it is being replaced, once it is (under the pool's lock).</summary>
    public string? RetireReason { get; set; }

    /// <summary>Completed with the exit status once the process has ended.</summary>
    public Task<int> Exited => _exited.Task;

    public IEnumerable<IWorkerCall> Calls => _calls.Values;

    /// <summary>Starts the process and waits for its app to be imported; throws <see cref="WorkerStartException"/> with the app's traceback.</summary>
    public async Task StartAsync(CancellationToken cancellationToken)
    {
        var supervisor = _pool.Supervisor;
        var token = Convert.ToHexString(RandomNumberGenerator.GetBytes(32));
        var start = new ProcessStartInfo(supervisor.Installation.Executable)
        {
            UseShellExecute = false,
            RedirectStandardInput = true,
            RedirectStandardOutput = true,
            RedirectStandardError = true,
        };
        start.ArgumentList.Add(supervisor.WorkerScript);
        start.Environment["GATEWAYBRIDGE_SOCKET"] = supervisor.SocketPath;
        start.Environment["GATEWAYBRIDGE_WORKER_TOKEN"] = token;
        start.Environment["GATEWAYBRIDGE_HOST_TOKEN"] = supervisor.HostToken;
        start.Environment.Remove("PYTHONSTARTUP");
        File.WriteAllBytes(_scoreboard, new byte[4096]);

        var connection = supervisor.ExpectConnection(token);
        Process process;
        try
        {
            process = _process = Process.Start(start) ?? throw new InvalidOperationException($"Could not start '{start.FileName}'.");
        }
        catch
        {
            supervisor.Forget(token);
            throw;
        }

        Pid = process.Id;
        supervisor.ExpectPid(token, Pid);

        // stdin at its end, as gunicorn's workers have it; stdout and stderr logged a line at a time.
        process.StandardInput.Close();
        var stdout = _loggers.CreateLogger(PythonHostSink.StdoutCategory);
        var stderr = _loggers.CreateLogger(PythonHostSink.StderrCategory);
        process.OutputDataReceived += (_, line) => { if (line.Data is { } text) { stdout.WorkerStdout(Pid, text); } };
        process.ErrorDataReceived += (_, line) => { if (line.Data is { } text) { stderr.WorkerStderr(Pid, text); } };
        process.BeginOutputReadLine();
        process.BeginErrorReadLine();

        // The Exited event, not WaitForExitAsync: that also waits for the end of stdout and stderr, which a child
        // the app started keeps open after the worker is gone.
        process.Exited += (_, _) => OnProcessExited(process);
        process.EnableRaisingEvents = true;
        if (process.HasExited)
        {
            OnProcessExited(process);
        }

        using var timeout = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        timeout.CancelAfter(_pool.StartTimeout);
        if (await Task.WhenAny(connection, Exited, Task.Delay(_pool.StartTimeout, timeout.Token)).ConfigureAwait(false) != connection)
        {
            supervisor.Forget(token);
            throw new WorkerStartException(Pid, Exited.IsCompleted
                ? $"exited with {DescribeExit(Exited.Result)} before it connected to the host"
                : $"did not connect to the host within {_pool.StartTimeout.TotalSeconds:0} s", "");
        }

        var socket = await connection.ConfigureAwait(false);
        _connection = new WorkerConnection(socket);
        _connection.Send(_pool.ConfigFrame(_tracebackFile, _scoreboard));

        var ready = new TaskCompletionSource<string>(TaskCreationOptions.RunContinuationsAsynchronously);
        _connection.StartReading(
            (type, flags, id, payload) => OnFrame(type, flags, id, payload, ready),
            error => OnClosed(error, ready),
            $"GatewayBridge worker {Pid}");
        using (timeout.Token.Register(() => ready.TrySetException(new WorkerStartException(Pid, $"did not load the app within {_pool.StartTimeout.TotalSeconds:0} s", ""))))
        {
            var info = await ready.Task.ConfigureAwait(false);
            using var json = JsonDocument.Parse(info);
            _logger.WorkerStarted(_pool.AppSpec, Pid, json.RootElement.GetProperty("python").GetString() ?? "");
        }
    }

    private void OnFrame(byte type, byte flags, uint id, ReadOnlySpan<byte> payload, TaskCompletionSource<string> ready)
    {
        switch (type)
        {
            case WorkerFrames.Ready:
                ready.TrySetResult(Encoding.UTF8.GetString(payload));
                break;
            case WorkerFrames.Failed:
                ready.TrySetException(new WorkerStartException(Pid, "could not load the app", Encoding.UTF8.GetString(payload)));
                break;
            case WorkerFrames.Log:
                OnLog(id, payload);
                break;
            case WorkerFrames.Retire:
                _pool.Retire(this, "memory");
                break;
            case WorkerFrames.Goodbye:
                _pool.Retire(this, "signal");
                break;
            default:
                if (!_calls.TryGetValue(id, out var call))
                {
                    throw new InvalidDataException($"The worker sent a frame of type {type} for request {id}, which it does not hold.");
                }

                if (call.OnFrame(type, flags, payload))
                {
                    _calls.TryRemove(id, out _);
                    call.Complete();
                    _pool.Release(this);
                }

                break;
        }
    }

    private void OnClosed(Exception? error, TaskCompletionSource<string> ready)
    {
        if (error is not null and not System.Net.Sockets.SocketException and not ObjectDisposedException)
        {
            // A worker that writes garbage (or a frame for a request it does not hold) cannot be trusted with the next
            // request either.
            _logger.WorkerProtocolError(Pid, error.Message);
        }

        // Without its connection a worker can answer nothing: it is ended, and its exit fails what it held. One told
        // to stop closes it on its way out: its atexit handlers get the rest of GracefulTimeout.
        if (!_stopping)
        {
            Kill();
        }

        ready.TrySetException(new WorkerStartException(Pid, error?.Message ?? "closed its connection before it was ready", ""));
    }

    private void OnLog(uint requestId, ReadOnlySpan<byte> payload)
    {
        var kind = payload[0];
        var level = BitConverter.ToUInt16(payload[1..3]);
        var text = Encoding.UTF8.GetString(payload[3..]);
        using var scope = _logger.BeginScope(new WorkerScope(Pid));
        if (kind == 1)
        {
            _loggers.CreateLogger(ErrorsTextWriter.Category).AppErrorsLine(text);
            return;
        }

        var fields = text.Split('\0', 3);
        var mapped = PythonLogLevels.FromPython(level);
        var logger = _loggers.CreateLogger(fields[0]);
        if (logger.IsEnabled(mapped))
        {
            logger.PythonRecord(mapped, fields[1], fields[2].Length == 0 ? null : new PythonAppException(fields[0], fields[1], fields[2]));
        }
    }

    /// <summary>Sends a WSGI request to the worker; the call collects its answer.</summary>
    public WorkerCall Dispatch(EnvironDictionary environ) =>
        Dispatch((_, id) => new WorkerCall(this, id, environ.Context.Request.Path.Value!), call => WorkerRequest.Send(_connection!, call.Id, environ));

    /// <summary>Registers the call <paramref name="create"/> makes, then has <paramref name="send"/> send its first frame.</summary>
    public T Dispatch<T>(Func<WorkerConnection, uint, T> create, Action<T> send)
        where T : IWorkerCall
    {
        T call;

        // Ids reach the worker in the order they are given, so the last one it started (its scoreboard) tells which
        // of those it holds never started.
        lock (_dispatchLock)
        {
            call = create(_connection!, ++_lastId);
            _calls[call.Id] = call;
            send(call);
        }

        if (_dead)
        {
            // The worker died between being chosen and being sent the request: it never saw it.
            Fail(call, new WorkerFailure(0, Pid, "the worker had exited"));
        }

        return call;
    }

    public void Send(ReadOnlySpan<byte> frame) => _connection?.Send(frame);

    /// <summary>Whether the process has exited (before the pool has heard of it, the requests it held have failed).</summary>
    public bool IsDead => _dead;

    /// <summary>Whether the worker has been told to stop.</summary>
    public bool IsStopping => _stopping;

    /// <summary>Asks the worker to finish what it holds and exit; kills it if it has not after <paramref name="grace"/>.</summary>
    public async Task StopAsync(TimeSpan grace)
    {
        _stopping = true;
        Send(WorkerFrames.Build(WorkerFrames.Stop, 0));
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
    public async Task TimeOutAsync(IWorkerCall call, TimeSpan timeout)
    {
        var traceback = await DumpTracebacksAsync().ConfigureAwait(false);
        _logger.WorkerTimedOut(call.Path, Pid, timeout.TotalSeconds, traceback);
        Fail(call, new WorkerFailure(504, Pid, $"app code ran longer than the timeout of {timeout.TotalSeconds:0.#} s"));
        _pool.NoteTimeout(this);
        Kill();
    }

    // faulthandler in the worker writes every thread's traceback to a file of the host's when it gets SIGUSR1,
    // from its C signal handler: it works while the stuck thread holds the GIL or sits in C code.
    private async Task<string> DumpTracebacksAsync()
    {
        try
        {
            if (Kill(Pid, SigUsr1) != 0)
            {
                return "";
            }

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
            _process?.Kill();
        }
        catch (InvalidOperationException)
        {
            // Already gone.
        }
    }

    private void OnProcessExited(Process process)
    {
        if (Interlocked.Exchange(ref _exitHandled, 1) != 0)
        {
            return;
        }

        var status = process.ExitCode;
        _dead = true;
        _connection?.Dispose();

        // A WSGI request the worker had not started goes to another worker; an ASGI server keeps no scoreboard, and
        // its requests are never sent twice (their body may already be in the app).
        var started = LastStarted();
        foreach (var call in _calls.Values)
        {
            Fail(call, call.Id > started && call is WorkerCall
                ? new WorkerFailure(0, Pid, "the worker exited before it started the request")
                : new WorkerFailure(502, Pid, $"the worker exited with {DescribeExit(status)}"));
        }

        DeleteFile(_tracebackFile);
        DeleteFile(_scoreboard);
        _exited.TrySetResult(status);
        _pool.OnExited(this, status);
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

    /// <summary>The id of the last request the worker started, from the scoreboard it writes before running the app.</summary>
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

    private void Fail(IWorkerCall call, WorkerFailure failure)
    {
        if (_calls.TryRemove(call.Id, out _))
        {
            call.Fail(failure);
        }
    }

    /// <summary>"status 1", or "signal 9 (SIGKILL)" for a process a signal ended (.NET reports 128 + the signal).</summary>
    public static string DescribeExit(int status) => status > 128 && status < 160
        ? $"signal {status - 128}{(status - 128) switch { 9 => " (SIGKILL)", 15 => " (SIGTERM)", 11 => " (SIGSEGV)", 6 => " (SIGABRT)", _ => "" }}"
        : $"status {status}";

    [DllImport("libc", EntryPoint = "kill", SetLastError = true)]
    [DefaultDllImportSearchPaths(DllImportSearchPath.SafeDirectories)]
    private static extern int Kill(int pid, int signal);

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
