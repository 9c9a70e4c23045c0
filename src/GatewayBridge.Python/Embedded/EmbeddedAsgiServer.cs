using System.Diagnostics.CodeAnalysis;
using System.Net.Sockets;
using System.Runtime.InteropServices;
using Microsoft.Extensions.Logging;
using Python.Runtime;

namespace GatewayBridge.Python;

/// <summary>
/// An ASGI app in the host's own interpreter: its asyncio loop on a thread of its own, talking to the host over a
/// socket pair in the worker protocol, on the same <see cref="FramedConnection"/> a worker process gets, so that both
/// modes share every rule of the protocol. The loop takes the GIL only while Python runs; the host's threads never
/// take it for an ASGI request.
/// </summary>
[SuppressMessage("Design", "CA1001:Types that own disposable fields should be disposable", Justification = "The connection is disposed when the loop ends, which Stop waits for.")]
internal sealed class EmbeddedAsgiServer : IAsgiServer
{
    private readonly TaskCompletionSource<string?> _ready = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private readonly TaskCompletionSource _readerDone = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private readonly ILogger _logger;
    private readonly string _appSpec;
    private readonly FramedConnection _connection;
    private Thread? _loop;

    private EmbeddedAsgiServer(string appSpec, FramedConnection connection, ILogger logger)
    {
        _appSpec = appSpec;
        _connection = connection;
        _logger = logger;
    }

    /// <summary>The calls in flight.</summary>
    public IReadOnlyList<AsgiCall> Calls => [.. _connection.Calls.OfType<AsgiCall>()];

    // No queue: the loop takes every request as it comes, as uvicorn's does.
    public bool HasRoom => true;

    /// <summary>Starts the loop for <paramref name="app"/> and waits until its lifespan startup is done; throws with the app's message if it failed.</summary>
    public static EmbeddedAsgiServer Start(PythonInterpreter python, PyObject app, string appSpec, TimeSpan startTimeout, TimeSpan grace, ILoggerFactory loggers, ILogger logger)
    {
        var (hostEnd, loopEnd) = UnixSockets.Pair(SocketType.Stream);
        var server = new EmbeddedAsgiServer(appSpec, new FramedConnection(UnixSockets.Own(hostEnd)), logger);
        server._connection.StartReading(server.OnControl, static _ => { }, server.OnClosed);
        server._loop = new Thread(() =>
        {
            // What the app logs on its loop goes to this host's logging, as from this host's Python threads.
            PythonHostSink.EnterHostThread(loggers);
            server.Run(python, app, loopEnd, grace);
        })
        { IsBackground = true, Name = $"GatewayBridge ASGI loop {appSpec}" };
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
                    python.AsgiRunner.Invoke(descriptor, app, spec, seconds).Dispose();
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
            // What the loop sent before it returned (a Failed frame with the app's message) is read first: the reader ends
            // at the end of the socket the loop closed, and disposes the connection itself.
            _readerDone.Task.Wait(TimeSpan.FromSeconds(1));
            _connection.Dispose();
        }
    }

    public ValueTask<AsgiCall> OpenAsync(AsgiRequest request, CancellationToken cancellationToken) =>
        ValueTask.FromResult(request.Open(_connection));

    private void OnControl(FrameType type, byte flags, uint id, ReadOnlySpan<byte> payload)
    {
        switch (type)
        {
            case FrameType.Ready:
                using (var json = FrameReader.ReadJson(payload))
                {
                    var info = json.RootElement;
                    var version = info.TryGetProperty("version", out var v) && v.TryGetInt32(out var n) ? n : 0;
                    _ready.TrySetResult(version == WorkerProtocol.Version
                        ? null
                        : $"the loop {Worker.VersionMismatch(version, info.TryGetProperty("module", out var m) ? m.GetString() : null)}");
                }

                break;
            case FrameType.Failed:
                _ready.TrySetResult(FrameReader.ReadText(payload));
                break;
            default:
                // Records go to the host's logging directly in its own interpreter: a Log frame here is not the protocol.
                throw new InvalidDataException($"a {type} frame from the host's ASGI loop");
        }
    }

    private void OnClosed(Exception? error)
    {
        _readerDone.TrySetResult();
        if (error is InvalidDataException)
        {
            _logger.PythonLoopProtocolError(_appSpec, error.Message);
        }

        // Bytes that are not the protocol leave the loop running: it is cut off, so that nothing more reaches it.
        _connection.Dispose();
        _ready.TrySetResult(error?.Message ?? "the loop ended before it was ready");
        _connection.FailAll(TransportFailure.Loop("has stopped"));
    }

    /// <summary>Tells the loop to finish what it holds and run the lifespan shutdown; waits up to <paramref name="grace"/>.</summary>
    public void Stop(TimeSpan grace)
    {
        _connection.Send(FrameWriter.Frame(FrameType.Stop));
        _loop?.Join(grace);
    }
}
