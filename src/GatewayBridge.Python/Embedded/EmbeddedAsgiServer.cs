using System.Collections.Concurrent;
using System.Diagnostics.CodeAnalysis;
using System.Net.Sockets;
using System.Runtime.InteropServices;
using System.Text;
using Microsoft.Extensions.Logging;
using Python.Runtime;

namespace GatewayBridge.Python;

/// <summary>
/// An ASGI app in the host's own interpreter: its asyncio loop on a thread of its own, talking to the host over a
/// socket pair in the same frames a worker process uses, so that both modes share every rule of the protocol. The
/// loop takes the GIL only while Python runs; the host's threads never take it for an ASGI request.
/// </summary>
[SuppressMessage("Design", "CA1001:Types that own disposable fields should be disposable", Justification = "The connection is disposed by Stop, which the host calls once.")]
internal sealed class EmbeddedAsgiServer : IAsgiServer
{
    private const int AfUnix = 1;
    private const int SockStream = 1;
    private const int SockCloexec = 0x80000;

    private static readonly WorkerFailure Stopped = new(502, Environment.ProcessId, "the host's ASGI loop has stopped");

    private readonly ConcurrentDictionary<uint, AsgiCall> _calls = new();
    private readonly TaskCompletionSource<string?> _ready = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private readonly ILogger _logger;
    private readonly string _appSpec;
    private WorkerConnection? _connection;
    private Thread? _loop;
    private uint _lastId;
    private volatile bool _closed;

    private EmbeddedAsgiServer(string appSpec, ILogger logger)
    {
        _appSpec = appSpec;
        _logger = logger;
    }

    /// <summary>The calls in flight.</summary>
    public IReadOnlyList<AsgiCall> Calls => [.. _calls.Values];

    // No queue: the loop takes every request as it comes, as uvicorn's does.
    public bool HasRoom => true;

    /// <summary>Starts the loop for <paramref name="app"/> and waits until its lifespan startup is done; throws with the app's message if it failed.</summary>
    public static EmbeddedAsgiServer Start(PythonInterpreter python, PyObject app, string appSpec, TimeSpan startTimeout, TimeSpan grace, ILogger logger)
    {
        var fds = new int[2];
        if (SocketPair(AfUnix, SockStream | SockCloexec, 0, fds) != 0)
        {
            throw new InvalidOperationException($"socketpair failed (errno {Marshal.GetLastPInvokeError()}).");
        }

        var server = new EmbeddedAsgiServer(appSpec, logger);
        var socket = new Socket(new SafeSocketHandle(fds[0], ownsHandle: true));
        server._connection = new WorkerConnection(socket);
        server._connection.StartReading(server.OnFrame, server.OnClosed, "GatewayBridge ASGI host reader");
        server._loop = new Thread(() => server.Run(python, app, fds[1], grace)) { IsBackground = true, Name = $"GatewayBridge ASGI loop {appSpec}" };
        server._loop.Start();
        if (!server._ready.Task.Wait(startTimeout))
        {
            throw new InvalidOperationException($"The Python ASGI app '{appSpec}' did not finish its lifespan startup within {startTimeout.TotalSeconds:0} s.");
        }

        if (server._ready.Task.Result is { } failure)
        {
            server.Stop(TimeSpan.Zero);
            throw new InvalidOperationException($"The Python ASGI app '{appSpec}' could not start: {failure}");
        }

        return server;
    }

    private void Run(PythonInterpreter python, PyObject app, int fd, TimeSpan grace)
    {
        try
        {
            using (Py.GIL())
            {
                using (app)
                using (var descriptor = new PyInt(fd))
                using (var spec = new PyString(_appSpec))
                using (var seconds = new PyFloat(grace.TotalSeconds))
                {
                    python.AsgiRunner().Invoke(descriptor, app, spec, seconds).Dispose();
                }
            }
        }
        catch (PythonException ex)
        {
            // The loop itself failed (not an app call: those are answered as frames).
            _logger.PythonThreadFailed(ex);
            _ready.TrySetResult($"{ex.Type.Name}: {ex.Message}");
        }
        finally
        {
            _connection?.Dispose();
        }
    }

    public ValueTask<AsgiCall> StartAsync(byte type, byte flags, byte[] frame, int length, string path, CancellationToken cancellationToken)
    {
        var id = Interlocked.Increment(ref _lastId);
        var call = new AsgiCall(_connection!, id, path, _logger);
        if (_closed)
        {
            call.Fail(Stopped);
            return ValueTask.FromResult(call);
        }

        _calls[id] = call;
        call.Start(type, flags, frame, length);
        if (_closed && _calls.TryRemove(id, out _))
        {
            // The loop stopped while the call started: OnClosed may have missed it.
            call.Fail(Stopped);
        }

        return ValueTask.FromResult(call);
    }

    private void OnFrame(byte type, byte flags, uint id, ReadOnlySpan<byte> payload)
    {
        switch (type)
        {
            case WorkerFrames.Ready:
                _ready.TrySetResult(null);
                break;
            case WorkerFrames.Failed:
                _ready.TrySetResult(Encoding.UTF8.GetString(payload));
                break;
            default:
                if (_calls.TryGetValue(id, out var call) && call.OnFrame(type, flags, payload))
                {
                    _calls.TryRemove(id, out _);
                    call.Complete();
                }

                break;
        }
    }

    private void OnClosed(Exception? error)
    {
        _closed = true;

        // Bytes that are not frames leave the loop running: it is cut off, so that nothing more reaches it.
        _connection?.Dispose();
        _ready.TrySetResult(error?.Message ?? "the loop ended before it was ready");
        foreach (var id in _calls.Keys)
        {
            if (_calls.TryRemove(id, out var call))
            {
                call.Fail(Stopped);
            }
        }
    }

    /// <summary>Tells the loop to finish what it holds and run the lifespan shutdown; waits up to <paramref name="grace"/>.</summary>
    public void Stop(TimeSpan grace)
    {
        _connection?.Send(WorkerFrames.Build(WorkerFrames.Stop, 0));
        _loop?.Join(grace);
    }

    [DllImport("libc", EntryPoint = "socketpair", SetLastError = true)]
    [DefaultDllImportSearchPaths(DllImportSearchPath.SafeDirectories)]
    private static extern int SocketPair(int domain, int type, int protocol, [Out] int[] descriptors);
}
