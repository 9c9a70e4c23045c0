using System.Collections.Concurrent;
using System.Diagnostics;
using System.Diagnostics.CodeAnalysis;
using System.Security.Cryptography;
using System.Text.Json;
using Microsoft.Extensions.Logging;

namespace GatewayBridge.Python;

/// <summary>
/// The template of a preloaded app (<see cref="PythonOptions.Preload"/>): a process that imported the app once and forks
/// a worker whenever the host asks (<c>gatewaybridge/template.py</c>). It is each forked worker's parent, so it reaps
/// them and reports how each ended; the host is not, and learns of a worker's end from it (and at once from the worker's
/// connection). Each forked worker still connects with its own secret, from its own pid, as a started one does.
/// </summary>
[SuppressMessage("Design", "CA1001:Types that own disposable fields should be disposable", Justification = "The connection is disposed when the template's process exits.")]
internal sealed class WorkerTemplate
{
    private readonly WorkerRuntime _runtime;
    private readonly Func<byte[]> _config;
    private readonly TimeSpan _startTimeout;
    private readonly ILoggerFactory _loggers;
    private readonly ILogger _logger;
    private readonly TaskCompletionSource<int> _exited = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private readonly ConcurrentDictionary<string, Forking> _forking = new();
    private readonly ConcurrentDictionary<int, Forked> _children = new();
    private Process? _process;
    private FramedConnection? _connection;

    public WorkerTemplate(WorkerRuntime runtime, Func<byte[]> config, TimeSpan startTimeout, ILoggerFactory loggers, ILogger logger)
    {
        _runtime = runtime;
        _config = config;
        _startTimeout = startTimeout;
        _loggers = loggers;
        _logger = logger;
    }

    public int Pid { get; private set; }

    /// <summary>Completed with the exit status once the template's process has ended.</summary>
    public Task<int> Exited => _exited.Task;

    /// <summary>The workers it forked that have not ended.</summary>
    public int Children => _children.Count;

    /// <summary>Starts the template and waits until it has imported the app; throws <see cref="WorkerStartException"/> with the traceback.</summary>
    public async Task StartAsync(CancellationToken cancellationToken)
    {
        var secret = Convert.ToHexString(RandomNumberGenerator.GetBytes(32));
        var connected = _runtime.ExpectConnection(secret);
        try
        {
            _process = WorkerProcess.Start(_runtime, secret, _loggers, status => _exited.TrySetResult(status));
        }
        catch
        {
            _runtime.Forget(secret);
            throw;
        }

        Pid = _process.Id;
        _runtime.ExpectPid(secret, Pid);
        var ready = new TaskCompletionSource<string>(TaskCreationOptions.RunContinuationsAsynchronously);
        using var timeout = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        timeout.CancelAfter(_startTimeout);
        _ = Exited.ContinueWith(t => ready.TrySetException(new WorkerStartException(Pid, $"exited with {Worker.DescribeExit(t.Result)} before it had imported the app", "")), TaskScheduler.Default);
        using (timeout.Token.Register(() => ready.TrySetException(new WorkerStartException(Pid, $"did not import the app within {_startTimeout.TotalSeconds:0} s", ""))))
        {
            // A template that exits or is late before it connects fails as one that is late to import does: with a
            // WorkerStartException, which whoever started it handles (an OperationCanceledException would not be).
            if (await Task.WhenAny(connected, ready.Task).ConfigureAwait(false) != connected)
            {
                _runtime.Forget(secret);
                await ready.Task.ConfigureAwait(false);
            }

            _connection = new FramedConnection(await connected.ConfigureAwait(false));
            _connection.Send(FrameWriter.Json(FrameType.Config, _config()));
            _connection.StartReading((type, _, _, payload) => OnControl(type, payload, ready), static _ => { }, OnClosed);
            await ready.Task.ConfigureAwait(false);
        }
    }

    /// <summary>
    /// Forks a worker that connects with <paramref name="secret"/>: its pid. Its stdout and stderr are logged under that
    /// pid; <paramref name="exited"/> gets its exit status, or -1 if this template died before it could report one.
    /// </summary>
    public async Task<int> ForkAsync(string secret, Action<int> exited, CancellationToken cancellationToken)
    {
        var connection = _connection ?? throw new InvalidOperationException("The template has not started.");
        var stdout = WorkerProcess.OutputPipe();
        var stderr = WorkerProcess.OutputPipe();
        var forking = new Forking(exited);
        _forking[secret] = forking;
        int pid;
        try
        {
            try
            {
                connection.SendWithDescriptors(FrameWriter.Json(FrameType.Fork, JsonSerializer.SerializeToUtf8Bytes(new Dictionary<string, string> { ["secret"] = secret })),
                    stdout.ClientSafePipeHandle, stderr.ClientSafePipeHandle);
            }
            finally
            {
                stdout.DisposeLocalCopyOfClientHandle();
                stderr.DisposeLocalCopyOfClientHandle();
            }

            using (cancellationToken.Register(() => forking.Pid.TrySetCanceled(cancellationToken)))
            {
                pid = await forking.Pid.Task.WaitAsync(_startTimeout, CancellationToken.None).ConfigureAwait(false);
            }
        }
        catch (Exception ex)
        {
            // A FORKED that comes later finds nothing: its worker's secret is no longer expected, so it is refused
            // and exits, and the template reaps it.
            _forking.TryRemove(secret, out _);
            stdout.Dispose();
            stderr.Dispose();
            throw ex switch
            {
                TimeoutException => new WorkerStartException(Pid, $"its template did not fork it within {_startTimeout.TotalSeconds:0} s", ""),
                ObjectDisposedException or IOException or System.Net.Sockets.SocketException => new WorkerStartException(Pid, "its template ended before it forked", ""),
                _ => ex,
            };
        }

        _ = WorkerProcess.LogLinesAsync(stdout, pid, isStderr: false, _loggers);
        _ = WorkerProcess.LogLinesAsync(stderr, pid, isStderr: true, _loggers);
        return pid;
    }

    private void OnControl(FrameType type, ReadOnlySpan<byte> payload, TaskCompletionSource<string> ready)
    {
        switch (type)
        {
            case FrameType.Ready:
                ready.TrySetResult("");
                break;
            case FrameType.Failed:
                ready.TrySetException(new WorkerStartException(Pid, "could not import the app", FrameReader.ReadText(payload)));
                break;
            case FrameType.Log:
                var (_, level, name, message, detail) = FrameReader.ReadLog(payload);
                var mapped = PythonLogLevels.FromPython(level);
                var logger = _loggers.CreateLogger(name);
                if (logger.IsEnabled(mapped))
                {
                    logger.PythonRecord(mapped, message, detail.Length == 0 ? null : new PythonAppException(name, message, detail));
                }

                break;
            case FrameType.Forked:
                using (var json = FrameReader.ReadJson(payload))
                {
                    var secret = json.RootElement.GetProperty("secret").GetString() ?? "";
                    var pid = json.RootElement.GetProperty("pid").GetInt32();
                    if (_forking.TryRemove(secret, out var forking))
                    {
                        // Registered here, on the reader, so that its Exited (which the template sends after) finds it.
                        _children[pid] = new Forked(forking.Exited);
                        forking.Pid.TrySetResult(pid);
                    }
                }

                break;
            case FrameType.Exited:
                using (var json = FrameReader.ReadJson(payload))
                {
                    var pid = json.RootElement.GetProperty("pid").GetInt32();
                    if (_children.TryRemove(pid, out var child))
                    {
                        child.Exited(json.RootElement.GetProperty("status").GetInt32());
                    }
                }

                break;
            default:
                throw new InvalidDataException($"a {type} frame from a template");
        }
    }

    // The template is gone: its workers live on (another process reaps them now), but their exit status is lost.
    private void OnClosed(Exception? error)
    {
        if (error is InvalidDataException)
        {
            _logger.WorkerProtocolError(Pid, error.Message);
        }

        Kill();
        foreach (var pid in _children.Keys)
        {
            if (_children.TryRemove(pid, out var child))
            {
                child.Exited(-1);
            }
        }

        foreach (var secret in _forking.Keys)
        {
            if (_forking.TryRemove(secret, out var forking))
            {
                forking.Pid.TrySetException(new WorkerStartException(Pid, "its template ended before it forked", ""));
            }
        }

        _connection?.Dispose();
    }

    /// <summary>Tells the template to exit (its forked workers live on, each stopped by the host); kills it after <paramref name="grace"/>.</summary>
    public async Task StopAsync(TimeSpan grace)
    {
        _connection?.Send(FrameWriter.Frame(FrameType.Stop));
        if (await Task.WhenAny(Exited, Task.Delay(grace)).ConfigureAwait(false) != Exited)
        {
            Kill();
        }
    }

    public void Kill()
    {
        try
        {
            _process?.Kill();
        }
        catch (InvalidOperationException)
        {
        }
    }

    private sealed record Forking(Action<int> Exited)
    {
        public TaskCompletionSource<int> Pid { get; } = new(TaskCreationOptions.RunContinuationsAsynchronously);
    }

    private sealed record Forked(Action<int> Exited);
}
