using System.Diagnostics;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.WebUtilities;
using Microsoft.Extensions.Logging;

namespace GatewayBridge.Python;

/// <summary>
/// Runs a Python WSGI app in its worker processes: the request waits in the bridge's queue for a worker with a free
/// thread, goes to it as one Request frame, and the parts of the response come back to be sent through the same
/// <see cref="GatewayResponse"/> as any app's, with credit granted as the client takes the bytes.
/// </summary>
internal sealed class WorkerAppInvoker : IGatewayAppInvoker
{
    private readonly WorkerPool _pool;
    private readonly string _appSpec;
    private readonly ILogger _logger;

    public WorkerAppInvoker(WorkerPool pool, string appSpec, ILogger logger)
    {
        _pool = pool;
        _appSpec = appSpec;
        _logger = logger;
    }

    public bool HasRoom => _pool.HasRoom;

    // The pool belongs to the host's supervisor, which stops it after the server has drained.
    public void Dispose()
    {
    }

    public async Task InvokeAsync(EnvironDictionary environ, GatewayResponse response, CancellationToken aborted)
    {
        var context = environ.Context;
        var request = PythonTracing.RequestSpan(context);
        while (true)
        {
            // :: Step 1: Send the request to a worker with a free thread, now or once one is free (the environ as native
            // strings, the body in the frame or as its file); the time it waits and the time in the app are spans
            string? spilled = null;
            Activity? app = null;
            var queued = PythonTracing.Start("python.queue", request, _appSpec);
            WsgiCall call;
            try
            {
                call = await _pool.DispatchAsync(
                    worker =>
                    {
                        PythonTracing.Worker(queued, worker.Pid);

                        // One app span however many workers are tried (a worker whose queue is full refuses the
                        // request, and the next one is asked): the app's traceparent names it.
                        app ??= PythonTracing.Start("python.app", request, _appSpec);
                        PythonTracing.Worker(app, worker.Pid);
                        return Open(worker, environ, PythonTracing.Headers(app, request), traced: app is not null, ref spilled);
                    },
                    aborted);
            }
            catch
            {
                queued?.Stop();
                app?.Stop();
                throw;
            }

            // Sent ahead to a busy worker, a request waits in its queue too: the worker says when a thread took it.
            var sent = queued is null ? default : DateTime.UtcNow;
            try
            {
                // :: Step 2: Send each part of the response as the worker produces it
                if (await SendPartsAsync(call, response, context, aborted))
                {
                    return;
                }
            }
            finally
            {
                // :: Step 3: If the response ended early, the worker closes the app's iterable at its next step
                call.Stop();
                PythonTracing.EndWorkerCall(queued, app, sent, call.StartedAt);
                DeleteSpilled(spilled);
            }

            // The worker was gone before it started the request: another one takes it.
        }
    }

    // The Request frame, one message of the worker's request queue: the environ as native strings, then the body: in
    // the frame when the bridge buffered it in memory, or the path of the temporary file it spilled to, which the worker
    // opens itself (a 50 MB upload never crosses the socket). A body in memory that would make the frame larger than a
    // message goes by a file of its own, deleted when the request ends.
    private WsgiCall Open(Worker worker, EnvironDictionary environ, (string Parent, string? State)? trace, bool traced, ref string? spilled)
    {
        var connection = worker.Connection;
        var queue = worker.Requests!;
        var input = environ.Input as FileBufferingReadStream;
        var bodyFile = input is { InMemory: false } ? input.TempFileName : spilled;
        var native = NativeEnviron.WithTrace(NativeEnviron.Build(environ), trace);
        if (bodyFile is null && input is not null && native.Length + input.Length + 16 > queue.MessageLimit)
        {
            bodyFile = spilled = SpillBody(input);
        }

        if (native.Length + 16 + (bodyFile?.Length ?? 0) * 3 > queue.MessageLimit)
        {
            throw new InvalidOperationException(
                $"The request's environ takes {native.Length} bytes; a worker's request queue takes at most {queue.MessageLimit} " +
                "(net.core.wmem_max limits it): raise that, or keep Kestrel's limit on request headers.");
        }

        return connection.Open(
            id => new WsgiCall(connection, id, environ.Context.Request.Path.Value!, call => _pool.TakeBack(worker, call)),
            call =>
            {
                using var frame = FrameWriter.Request(call.Id, native, bodyFile is null ? input : null, bodyFile, traced);
                if (!queue.TrySend(frame.Span))
                {
                    throw new RequestQueueFullException();
                }
            });
    }

    private static string SpillBody(FileBufferingReadStream input)
    {
        var path = Path.Combine(Path.GetTempPath(), $"gatewaybridge-body-{Guid.NewGuid():N}");
        using var file = new FileStream(path, FileMode.CreateNew, FileAccess.Write, FileShare.Read, 1, FileOptions.None);
        input.Position = 0;
        input.CopyTo(file);
        return path;
    }

    private static void DeleteSpilled(string? path)
    {
        if (path is not null)
        {
            try
            {
                File.Delete(path);
            }
            catch (IOException)
            {
            }
        }
    }

    // False when the request must go to another worker.
    private async Task<bool> SendPartsAsync(WsgiCall call, GatewayResponse response, HttpContext context, CancellationToken aborted)
    {
        while (await call.Parts.WaitToReadAsync(aborted))
        {
            while (call.Parts.TryRead(out var part))
            {
                try
                {
                    if (part.Failure is { NeverSent: true })
                    {
                        return false;
                    }

                    if (part.Failure is { } failure)
                    {
                        failure.Respond(context, _logger);
                        return true;
                    }

                    if (await SendAsync(part, response, call, context.Request.Path))
                    {
                        return true;
                    }
                }
                finally
                {
                    part.Release();
                }
            }
        }

        // Reached only when the worker gave up without an answer, or the supervisor stopped it.
        throw new InvalidOperationException("The Python worker ended the request without an answer (the host is stopping).");
    }

    private async ValueTask<bool> SendAsync(WsgiResponsePart part, GatewayResponse response, WsgiCall call, PathString path)
    {
        var done = await WsgiResponseSender.SendAsync(part, response, _logger, path);
        if (part.Kind is WsgiPartKind.Chunk or WsgiPartKind.Length)
        {
            // The bytes are on their way to the client: the worker may send as many more.
            call.Credit(part.Length);
        }

        return done;
    }
}
