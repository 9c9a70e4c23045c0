using Microsoft.Extensions.Logging;

namespace GatewayBridge;

/// <summary>
/// Runs a .NET <see cref="GatewayApp"/>: the call, each step of its iterable and its disposal are app code, which may
/// block, so each runs where the worker pool decides (inline, or on a worker thread).
/// </summary>
internal sealed class GatewayAppInvoker : IGatewayAppInvoker
{
    private readonly GatewayApp _app;
    private readonly GatewayWorkerPool _pool;
    private readonly ILogger _logger;

    public GatewayAppInvoker(GatewayApp app, GatewayWorkerPool pool, ILogger logger)
    {
        _app = app;
        _pool = pool;
        _logger = logger;
    }

    public bool HasRoom => _pool.HasRoom;

    public void Dispose() => _pool.Dispose();

    public async Task InvokeAsync(EnvironDictionary environ, StartResponseState state, ResponseBodyWriter writer, CancellationToken aborted)
    {
        IEnumerable<byte[]>? result = null;
        try
        {
            // :: Step 1: Call the app
            result = await _pool.InvokeAsync(
                static call => call.App(call.Environ, call.State.StartResponse), (App: _app, Environ: environ, State: state), aborted)
                ?? throw new InvalidOperationException("The gateway app returned null instead of an iterable; return [] for an empty body.");

            // :: Step 2: Send the body (a list, a file or an iterator: the writer tells them apart)
            await writer.WriteAsync(result, _pool);
        }
        catch (Exception ex) when (ex is not OperationCanceledException || !aborted.IsCancellationRequested)
        {
            // What the app wrote before failing was due: it goes out, and the handler then breaks the response.
            await writer.SendDueOutputAsync();
            throw;
        }
        finally
        {
            // :: Step 3: close(), exactly once, whatever happened above
            await CloseAsync(environ, writer.Enumerator, result);
        }
    }

    // PEP 3333's close() is the iterable's Dispose, and its enumerator's when the server took one. Never allowed to
    // hide the response's own outcome. It is app code (a generator's finally block may block), so it is scheduled
    // like the rest, but it always runs.
    private ValueTask CloseAsync(EnvironDictionary environ, IEnumerator<byte[]>? enumerator, IEnumerable<byte[]>? result)
    {
        var disposable = ReferenceEquals(result, enumerator) ? null : result as IDisposable;
        return enumerator is null && disposable is null ? default : DisposeAsync(environ, enumerator, disposable);
    }

    private async ValueTask DisposeAsync(EnvironDictionary environ, IEnumerator<byte[]>? enumerator, IDisposable? disposable)
    {
        try
        {
            await _pool.InvokeAsync(static pair => Dispose(pair.Enumerator, pair.Disposable), (Enumerator: enumerator, Disposable: disposable), CancellationToken.None);
        }
        catch (Exception ex)
        {
            _logger.GatewayAppCloseFailed(environ.Context.Request.Path.Value ?? "", ex);
        }
    }

    private static bool Dispose(IEnumerator<byte[]>? enumerator, IDisposable? disposable)
    {
        try
        {
            enumerator?.Dispose();
        }
        finally
        {
            disposable?.Dispose();
        }

        return true;
    }
}
