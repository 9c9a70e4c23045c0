using System.Buffers;
using System.Diagnostics;
using System.Threading.Channels;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.Logging;
using Microsoft.Win32.SafeHandles;
using Python.Runtime;

namespace GatewayBridge.Python;

/// <summary>
/// One request handed to a Python thread. The thread runs the app a step at a time (one call into Python per step)
/// and posts each step's part into a small channel; the request sends the parts as they come, so the app produces
/// its next chunk while the previous one is on its way (PEP 3333: transmission continues while the app works).
/// </summary>
internal sealed class PythonCall
{
    // Two parts in flight at most: a slow client holds the Python thread back (with the GIL released) rather than
    // letting a streaming app fill memory. The request takes each part on a thread-pool thread: taking it on the Python
    // thread that posts it, GIL and all, saved context switches (5.5 per request to 1.6) but cost more CPU and
    // throughput than the switches did (python-load.sh, same session: Flask 185-200 against 177 µs per request, 5.6k
    // against 7.4k req/s), since the Python thread then did Kestrel's work under the GIL.
    private readonly Channel<WsgiResponsePart> _parts = Channel.CreateBounded<WsgiResponsePart>(
        new BoundedChannelOptions(2) { SingleReader = true, SingleWriter = true });

    private static long s_lastId;

    private readonly PyObject _app;
    private readonly Activity? _request;
    private readonly Activity? _queued;
    private readonly string _appSpec;
    private string _environ;
    private readonly EmbeddedRequestBody _body;
    private readonly CancellationToken _aborted;
    private readonly ILogger _logger;
    private readonly PathString _path;
    private volatile bool _stopped;

    /// <summary>A call of the app <paramref name="appSpec"/>; its wait for a thread is the span <paramref name="queued"/>, a child of <paramref name="request"/>.</summary>
    public PythonCall(PyObject app, string appSpec, string environ, EmbeddedRequestBody body, ILogger logger, PathString path, Activity? request, Activity? queued, CancellationToken aborted)
    {
        _app = app;
        _appSpec = appSpec;
        _request = request;
        _queued = queued;
        _environ = environ;
        _body = body;
        _aborted = aborted;
        _logger = logger;
        _path = path;
    }

    /// <summary>Names the call to Python, so that a write() kept from another request cannot write into this one.</summary>
    public long Id { get; } = Interlocked.Increment(ref s_lastId);

    /// <summary>The response's parts, in order; completed when the Python side is done with the call.</summary>
    public ChannelReader<WsgiResponsePart> Parts => _parts.Reader;

    /// <summary>Whether the request no longer wants parts: it ended, or it was aborted.</summary>
    public bool IsStopped => _stopped || _aborted.IsCancellationRequested;

    /// <summary>
    /// Called by the request when it stops reading: a waiting Python thread wakes, and the app's iterable is closed at
    /// its next step.
    /// </summary>
    public void Stop()
    {
        _stopped = true;
        _parts.Writer.TryComplete();
        while (_parts.Reader.TryRead(out var part))
        {
            part.Release();
        }
    }

    /// <summary>Runs the call on the current Python thread, which holds the GIL.</summary>
    public void Run(PythonInterpreter python)
    {
        PyObject? resumable = null;
        _queued?.Stop();
        var span = PythonTracing.Start("python.app", _request, _appSpec);
        _environ = NativeEnviron.WithTrace(_environ, PythonTracing.Headers(span, _request));
        try
        {
            if (IsStopped)
            {
                // A request that ended while it waited for a thread never reaches the app.
                _body.Release();
                return;
            }

            PythonHostSink.CurrentCall = this;
            var step = Start(python);
            while (true)
            {
                var part = ReadStep(step, ref resumable);
                if (!Post(part) || part.Kind != WsgiPartKind.Chunk || IsStopped)
                {
                    break;
                }

                step = python.Resume.Invoke(resumable!);
            }
        }
        catch (Exception ex)
        {
            // pythonnet itself failed (the shim catches what the app raises); the request still gets an answer. Only
            // the message: formatting a PythonException's traceback calls into Python again, and could fail too.
            Post(Failed(new PythonAppException(ex.GetType().Name, ex.Message, ex.Message), null));
        }
        finally
        {
            span?.Stop();
            PythonHostSink.CurrentCall = null;
            if (resumable is not null)
            {
                // The request stopped before the body ended (the client left, or the headers were refused).
                Close(python, resumable);
            }

            _parts.Writer.TryComplete();
        }
    }

    private void Close(PythonInterpreter python, PyObject resumable)
    {
        try
        {
            using (resumable)
            using (var failure = python.Close.Invoke(resumable))
            {
                if (!failure.IsNone())
                {
                    _logger.GatewayAppCloseFailed(_path, WsgiResponsePart.CloseFailed(failure.As<string>()));
                }
            }
        }
        catch (Exception ex)
        {
            _logger.GatewayAppCloseFailed(_path, ex);
        }
    }

    private PyObject Start(PythonInterpreter python)
    {
        using var id = new PyInt(Id);
        using var environ = new PyString(_environ);
        using var body = _body.Memory is { } memory ? PyObject.FromManagedObject(memory) : PyObject.None;
        using var length = new PyInt(_body.Length);
        using var path = _body.Path is { } p ? new PyString(p) : PyObject.None;
        try
        {
            return python.Start.Invoke(_app, id, environ, body, length, path);
        }
        finally
        {
            // Python has its own copy (a BytesIO) by now.
            _body.Release();
        }
    }

    // (head, data, kind, extra): see gatewaybridge/wsgi.py.
    private static WsgiResponsePart ReadStep(PyObject step, ref PyObject? resumable)
    {
        using (step)
        {
            using var headObject = step[0];
            using var data = step[1];
            using var kindObject = step[2];
            var extra = step[3];
            var head = headObject.IsNone() ? null : headObject.As<string>();
            var kind = (WsgiPartKind)kindObject.As<int>();
            PythonAppException? closeFailure = null;
            if (kind == WsgiPartKind.Chunk)
            {
                resumable?.Dispose();
                resumable = extra;
            }
            else
            {
                resumable?.Dispose();
                resumable = null;
                using (extra)
                {
                    closeFailure = extra.IsNone() ? null : WsgiResponsePart.CloseFailed(extra.As<string>());
                }
            }

            switch (kind)
            {
                case WsgiPartKind.Error:
                    using (var type = data[0])
                    using (var message = data[1])
                    using (var traceback = data[2])
                    {
                        return Failed(new PythonAppException(type.As<string>(), message.As<string>(), traceback.As<string>()), closeFailure);
                    }

                case WsgiPartKind.File:
                    using (var fd = data[0])
                    using (var offset = data[1])
                    using (var count = data[2])
                    using (var path = data[3])
                    {
                        var handle = new SafeFileHandle(fd.As<int>(), ownsHandle: true);
                        var file = new WsgiFile(handle, path.IsNone() ? null : path.As<string>(), offset.As<long>(), count.As<long>());
                        return new(kind, head, null, 0, file, null, closeFailure);
                    }

                default:
                    using (var view = data.GetBuffer())
                    {
                        var length = checked((int)view.Length);
                        var buffer = ArrayPool<byte>.Shared.Rent(Math.Max(length, 1));
                        view.Read(buffer, 0, length, 0);
                        return new(kind, head, buffer, length, null, null, closeFailure);
                    }
            }
        }
    }

    private static WsgiResponsePart Failed(PythonAppException error, PythonAppException? closeFailure) =>
        new(WsgiPartKind.Error, null, null, 0, null, error, closeFailure);

    /// <summary>
    /// Hands a part to the request from the Python thread, which holds the GIL: it releases the GIL while two parts
    /// are in flight, so other Python threads run while a slow client catches up. <see langword="false"/> when the
    /// request has stopped reading, in which case the part is released here.
    /// </summary>
    public bool Post(WsgiResponsePart part)
    {
        if (_parts.Writer.TryWrite(part))
        {
            return true;
        }

        var state = PythonEngine.BeginAllowThreads();
        try
        {
            return PostWithoutGil(part);
        }
        finally
        {
            PythonEngine.EndAllowThreads(state);
        }
    }

    /// <summary>As <see cref="Post"/>, from a call out of Python (write()), around which pythonnet released the GIL.</summary>
    public bool PostWithoutGil(WsgiResponsePart part)
    {
        while (_parts.Writer.TryWrite(part) is false)
        {
            if (!_parts.Writer.WaitToWriteAsync().AsTask().GetAwaiter().GetResult())
            {
                part.Release();
                return false;
            }
        }

        return true;
    }
}
