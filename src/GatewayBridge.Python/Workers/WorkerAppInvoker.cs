using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.Logging;

namespace GatewayBridge.Python;

/// <summary>
/// Runs a Python WSGI app in its worker processes: the request waits in the bridge's queue for a worker with a free
/// thread, goes to it as one frame, and the parts of the response come back to be sent through the same
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
            var call = await _pool.DispatchAsync(environ, aborted);
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

            // The worker died before it started the request: another one takes it.
        }
    }

    // False when the request must go to another worker.
    private async Task<bool> SendPartsAsync(WorkerCall call, GatewayResponse response, HttpContext context, CancellationToken aborted)
    {
        while (await call.Parts.WaitToReadAsync(aborted))
        {
            while (call.Parts.TryRead(out var part))
            {
                try
                {
                    if (part.Failure is { Retry: true })
                    {
                        return false;
                    }

                    if (part.Failure is { } failure)
                    {
                        Fail(context, failure);
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

    private async ValueTask<bool> SendAsync(PythonResponsePart part, GatewayResponse response, WorkerCall call, PathString path)
    {
        var done = await PythonResponseSender.SendAsync(part, response, _logger, path);
        if (part.Kind is PythonStepKind.Chunk or PythonStepKind.Length)
        {
            // The bytes are on their way to the client: the worker may send as many more.
            call.Credit(part.Length);
        }

        return done;
    }

    // The worker died or hung while it held the request: before the response started that is the gateway's 502 or
    // 504; after, the connection is cut so the client cannot take a partial body for a whole one.
    private void Fail(HttpContext context, WorkerFailure failure)
    {
        _logger.WorkerRequestFailed(context.Request.Method, context.Request.Path, failure.StatusCode, failure.Pid, failure.Reason);
        if (context.Response.HasStarted)
        {
            context.Abort();
            return;
        }

        context.Response.StatusCode = failure.StatusCode;
    }
}
