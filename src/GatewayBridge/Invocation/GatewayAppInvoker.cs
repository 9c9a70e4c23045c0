using Microsoft.Extensions.Logging;

namespace GatewayBridge;

/// <summary>
/// Runs a .NET <see cref="GatewayApp"/>: calls it, enumerates its body into the response, and disposes what it
/// returned. The call, each step of the iterable and the disposal are app code, which may block, so each runs where
/// the app thread pool decides (inline, or on an app thread).
/// </summary>
internal sealed class GatewayAppInvoker : IGatewayAppInvoker
{
    private readonly GatewayApp _app;
    private readonly AppThreadPool _pool;
    private readonly ILogger _logger;

    public GatewayAppInvoker(GatewayApp app, AppThreadPool pool, ILogger logger)
    {
        _app = app;
        _pool = pool;
        _logger = logger;
    }

    public bool HasRoom => _pool.HasRoom;

    public void Dispose() => _pool.Dispose();

    public async Task InvokeAsync(EnvironDictionary environ, GatewayResponse response, CancellationToken aborted)
    {
        IEnumerable<byte[]>? result = null;
        IEnumerator<byte[]>? enumerator = null;
        try
        {
            // :: Step 1: Call the app
            result = await _pool.InvokeAsync(
                static call => call.App(call.Environ, call.Response.StartResponse), (App: _app, Environ: environ, Response: response), aborted)
                ?? throw new InvalidOperationException("The gateway app returned null instead of an iterable; return [] for an empty body.");

            // :: Step 2: Send the body: a list at once, a file by send-file, an iterator a chunk at a time
            if (result is IList<byte[]> list)
            {
                await response.WriteListAsync(list);
            }
            else
            {
                if (response.HasDueOutput)
                {
                    // Bytes written before returning a lazy body go out before the app is asked for more.
                    await response.FlushDueOutputAsync();
                }

                if (result is FileWrapper file)
                {
                    await SendFileAsync(file, response);
                }
                else
                {
                    enumerator = result.GetEnumerator();
                    await PumpAsync(enumerator, response, aborted);
                }
            }

            await response.CompleteAsync();
        }
        catch (Exception ex) when (ex is not OperationCanceledException || !aborted.IsCancellationRequested)
        {
            // What the app wrote before failing was due: it goes out, and the handler then breaks the response.
            await response.SendDueOutputAsync();
            throw;
        }
        finally
        {
            // :: Step 3: close(), exactly once, whatever happened above
            if (enumerator is not null || result is IDisposable)
            {
                await CloseAsync(environ, enumerator, ReferenceEquals(result, enumerator) ? null : result as IDisposable);
            }
        }
    }

    // Each chunk is flushed before the app is asked for the next: PEP 3333 wants it on its way to the client first.
    private async Task PumpAsync(IEnumerator<byte[]> enumerator, GatewayResponse response, CancellationToken aborted)
    {
        while (!response.IsAborted)
        {
            var more = await _pool.InvokeAsync(static e => e.MoveNext(), enumerator, aborted);
            if (response.HasDueOutput)
            {
                await response.FlushDueOutputAsync();
            }

            if (!more)
            {
                return;
            }

            var chunk = enumerator.Current ?? throw GatewayResponse.NullChunk();
            if (chunk.Length > 0)
            {
                await response.WriteChunkAsync(chunk);
            }
        }
    }

    // A file still named by its path goes out through Kestrel's send-file path; any other stream is copied.
    private static Task SendFileAsync(FileWrapper wrapper, GatewayResponse response)
    {
        var stream = wrapper.Stream;
        if (stream is FileStream file && stream.CanSeek && File.Exists(file.Name))
        {
            return response.SendFileAsync(file.Name, file.Position, Math.Max(0, file.Length - file.Position));
        }

        return response.SendStreamAsync(stream, wrapper.BlockSize);
    }

    // PEP 3333's close() is the iterable's Dispose, and its enumerator's when the server took one. Never allowed to
    // hide the response's own outcome. It is app code (a generator's finally block may block), so it is scheduled
    // like the rest, but it always runs.
    private async ValueTask CloseAsync(EnvironDictionary environ, IEnumerator<byte[]>? enumerator, IDisposable? disposable)
    {
        try
        {
            await _pool.InvokeAsync(static pair => Dispose(pair.Enumerator, pair.Disposable), (Enumerator: enumerator, Disposable: disposable), CancellationToken.None);
        }
        catch (Exception ex)
        {
            _logger.GatewayAppCloseFailed(environ.Context.Request.Path, ex);
        }
    }

    private static ValueTuple Dispose(IEnumerator<byte[]>? enumerator, IDisposable? disposable)
    {
        try
        {
            enumerator?.Dispose();
        }
        finally
        {
            disposable?.Dispose();
        }

        return default;
    }
}
