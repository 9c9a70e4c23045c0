using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.Logging;

namespace GatewayBridge;

/// <summary>
/// Runs one request through the bridge, a stage at a time: admission and body buffering
/// (<see cref="RequestAdmission"/>), the environ (<see cref="EnvironDictionary"/>), the app and its response
/// (an <see cref="IGatewayAppInvoker"/> and its <see cref="GatewayResponse"/>), and the end of the request.
/// Shared by the middleware and the routed endpoint, and by every kind of app.
/// </summary>
internal sealed class GatewayRequestHandler : IGatewayRequestHandler, IDisposable
{
    private readonly IGatewayAppInvoker _invoker;
    private readonly GatewayOptions _options;
    private readonly ILogger _logger;
    private readonly Func<TextWriter> _errorsFactory;
    private readonly GatewayMetrics _metrics;
    private readonly RequestAdmission _admission;

    public GatewayRequestHandler(IGatewayAppInvoker invoker, GatewayOptions options, ILogger logger, ILogger errorsLogger, GatewayMetrics metrics)
    {
        _invoker = invoker;
        _options = options;
        _logger = logger;
        _errorsFactory = () => new ErrorsTextWriter(errorsLogger);
        _metrics = metrics;
        _admission = new RequestAdmission(options, logger, metrics);
    }

    public void Dispose()
    {
        _invoker.Dispose();
        _metrics.Dispose();
    }

    public Task HandleAsync(HttpContext context, string scriptName, string pathInfo)
    {
        // :: Step 1: Admit the request, or answer 503 before its body is read
        if (!_admission.TryAdmit(context, _invoker.HasRoom))
        {
            return Task.CompletedTask;
        }

        // Kestrel takes a lock on every read of RequestAborted, so one request reads it once.
        var aborted = context.RequestAborted;

        // :: Step 2: Buffer the request body (413 past the limit); a request without one skips this
        if (RequestAdmission.HasBody(context))
        {
            return BufferBodyThenRunAsync(context, scriptName, pathInfo, aborted);
        }

        return RunAsync(context, NewEnvironment(context, scriptName, pathInfo, Stream.Null, aborted), aborted);
    }

    private EnvironDictionary NewEnvironment(HttpContext context, string scriptName, string pathInfo, Stream input, CancellationToken aborted) =>
        new(context, scriptName, pathInfo, input, _options.AllowUnderscoreHeaders, _errorsFactory, aborted);

    private async Task BufferBodyThenRunAsync(HttpContext context, string scriptName, string pathInfo, CancellationToken aborted)
    {
        var body = await _admission.BufferBodyAsync(context, aborted);
        if (body is null)
        {
            return;
        }

        var request = context.Request;
        var original = request.Body;
        try
        {
            request.Body = body;
            await RunAsync(context, NewEnvironment(context, scriptName, pathInfo, body, aborted), aborted);
        }
        finally
        {
            request.Body = original;
            await body.DisposeAsync();
        }
    }

    private async Task RunAsync(HttpContext context, EnvironDictionary environ, CancellationToken aborted)
    {
        var response = new GatewayResponse(context, _logger, aborted);
        try
        {
            // :: Step 3: Call the app, send its response, close what it returned
            await _invoker.InvokeAsync(environ, response, aborted);
        }
        catch (OperationCanceledException) when (aborted.IsCancellationRequested)
        {
            // Answered below, once, whether the invoker returned early or threw.
        }
        catch (Exception ex)
        {
            // Rethrown on purpose: before the response starts, ASP.NET's exception handling makes the 500; after,
            // Kestrel ends the response without a clean terminator so the client sees it broken.
            _logger.GatewayAppFailed(context.Request.Method, context.Request.Path, ex);
            throw;
        }
        finally
        {
            // :: Step 4: End the request: the environ is sealed before the server recycles what it reads from
            environ.Seal();
            environ.ErrorsWriter?.Flush();
            if (_options.ReportBytesSent && context.Features.Feature<ResponseBytesFeature>() is { } bytes)
            {
                bytes.BytesSent = response.BytesWritten;
            }
        }

        if (aborted.IsCancellationRequested)
        {
            AbortedRequest.End(context, _logger);
        }
    }
}
