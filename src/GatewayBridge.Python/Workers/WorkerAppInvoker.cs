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
    private readonly ILogger _logger;

    public WorkerAppInvoker(WorkerPool pool, ILogger logger)
    {
        _pool = pool;
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
        while (true)
        {
            // :: Step 1: Send the request to a worker with a free thread, now or once one is free (the environ as native
            // strings, the body in the frame or as its file)
            var call = await _pool.DispatchAsync(worker => Open(worker.Connection, environ), aborted);
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
            }

            // The worker was gone before it started the request: another one takes it.
        }
    }

    // The Request frame: the environ as native strings, then the body: in the frame when the bridge buffered it in
    // memory, or the path of the temporary file it spilled to, which the worker opens itself (a 50 MB upload never
    // crosses the socket).
    private static WsgiCall Open(FramedConnection connection, EnvironDictionary environ) =>
        connection.Open(
            id => new WsgiCall(connection, id, environ.Context.Request.Path.Value!),
            call =>
            {
                var input = environ.Input as FileBufferingReadStream;
                var spilled = input is { InMemory: false } ? input.TempFileName : null;
                connection.Send(FrameWriter.Request(call.Id, NativeEnviron.Build(environ), spilled is null ? input : null, spilled));
            });

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
