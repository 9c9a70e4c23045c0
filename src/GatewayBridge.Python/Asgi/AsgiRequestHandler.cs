using System.Buffers;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Http.Features;
using Microsoft.AspNetCore.WebUtilities;
using Microsoft.Extensions.Logging;

namespace GatewayBridge.Python;

/// <summary>
/// Runs one HTTP request through a Python ASGI app: the scope to a server, the body after it in pieces as the app
/// reads them (<c>more_body</c>), <c>http.disconnect</c> when the client goes, and the app's response through the same
/// <see cref="GatewayResponse"/> as a WSGI app's (HEAD, 204, 304 and Content-Length handled alike). WebSockets go to
/// <see cref="AsgiWebSocketSession"/>.
/// </summary>
internal sealed class AsgiRequestHandler : IGatewayRequestHandler
{
    private const int BodyPiece = 64 * 1024;

    private readonly IAsgiServer _server;
    private readonly string _appSpec;
    private readonly ILogger _logger;
    private readonly RequestAdmission _admission;
    private int _webSocketsWarned;

    public AsgiRequestHandler(IAsgiServer server, string appSpec, GatewayOptions options, ILogger logger, GatewayMetrics metrics)
    {
        _server = server;
        _appSpec = appSpec;
        _logger = logger;
        _admission = new RequestAdmission(options, logger, metrics);
    }

    public Task HandleAsync(HttpContext context, string scriptName, string pathInfo)
    {
        // :: Step 1: Admit the request, or answer 503 before its body is read
        if (!_admission.TryAdmit(context, _server.HasRoom))
        {
            return Task.CompletedTask;
        }

        if (context.WebSockets.IsWebSocketRequest)
        {
            return WebSocketAsync(context, scriptName, pathInfo);
        }

        if (Volatile.Read(ref _webSocketsWarned) == 0 && IsWebSocketUpgrade(context.Request) &&
            Interlocked.Exchange(ref _webSocketsWarned, 1) == 0)
        {
            // As uvicorn without a WebSocket library: the app sees plain HTTP, and the log says why.
            _logger.WebSocketsNotEnabled(context.Request.Path);
        }

        // A body over Kestrel's limit is refused before the app is called: nothing of it is read.
        var limit = context.Features.Get<IHttpMaxRequestBodySizeFeature>()?.MaxRequestBodySize;
        if (context.Request.ContentLength > limit)
        {
            RejectTooLarge(context, limit.Value);
            return Task.CompletedTask;
        }

        return RunAsync(context, scriptName, pathInfo);
    }

    private async Task WebSocketAsync(HttpContext context, string scriptName, string pathInfo)
    {
        using var session = new AsgiWebSocketSession(context, _server, _appSpec, _logger);
        await session.RunAsync(scriptName, pathInfo);
    }

    private static bool IsWebSocketUpgrade(HttpRequest request) =>
        request.Headers.Upgrade.ToString().Contains("websocket", StringComparison.OrdinalIgnoreCase);

    private async Task RunAsync(HttpContext context, string scriptName, string pathInfo)
    {
        var aborted = context.RequestAborted;
        var hasBody = RequestAdmission.HasBody(context);

        // :: Step 2: Send the scope to a server with room for it, now or once one has
        AsgiCall call;
        try
        {
            call = await _server.OpenAsync(new AsgiRequest(context, scriptName, pathInfo, false, hasBody ? (byte)0 : FrameFlags.Empty, _appSpec, _logger), aborted);
        }
        catch (OperationCanceledException) when (aborted.IsCancellationRequested)
        {
            AbortedRequest.End(context, _logger);
            return;
        }

        // :: Step 3: Send the body as the app reads it, and the response as the app sends it
        using var pumping = hasBody ? CancellationTokenSource.CreateLinkedTokenSource(aborted) : null;
        var body = new RequestBody();
        var pump = pumping is null ? Task.CompletedTask : body.PumpAsync(context.Request, call, pumping.Token);
        var response = new GatewayResponse(context, _logger, aborted);
        var complete = false;
        try
        {
            using (aborted.UnsafeRegister(static call => ((AsgiCall)call!).Disconnect(), call))
            {
                complete = await RespondAsync(context, call, response, body, aborted);
            }

            if (!complete && body.TooLarge && !context.Response.HasStarted)
            {
                // The body passed Kestrel's limit while the app read it: whatever the app made of the client's
                // going, the answer is 413.
                RejectTooLarge(context, context.Features.Get<IHttpMaxRequestBodySizeFeature>()?.MaxRequestBodySize ?? 0);
            }
        }
        catch (OperationCanceledException) when (aborted.IsCancellationRequested)
        {
            // Answered below, once, whether the response ended early or threw.
        }
        finally
        {
            // :: Step 4: An app still sending is told the response is over; the body stops being read
            if (!complete)
            {
                call.Disconnect();
            }

            call.Stop();
            if (pumping is not null)
            {
                await pumping.CancelAsync();
                await pump.ConfigureAwait(ConfigureAwaitOptions.SuppressThrowing);
            }
        }

        if (aborted.IsCancellationRequested)
        {
            AbortedRequest.End(context, _logger);
        }
    }

    // True once the response is complete; false when it ended otherwise (the app failed, or returned without one).
    private async Task<bool> RespondAsync(HttpContext context, AsgiCall call, GatewayResponse response, RequestBody body, CancellationToken aborted)
    {
        while (await call.Parts.WaitToReadAsync(aborted))
        {
            while (call.Parts.TryRead(out var part))
            {
                try
                {
                    switch (part.Kind)
                    {
                        case AsgiPartKind.Start:
                            if (!TryStart(context, response, part))
                            {
                                return false;
                            }

                            break;
                        case AsgiPartKind.Body when part.Flag:
                            await response.WriteChunkAsync(part.Data);
                            call.Credit(part.Length);
                            break;
                        case AsgiPartKind.Body:
                            await response.WriteWholeBodyAsync(part.Data);
                            await response.CompleteAsync();
                            return true;
                        case AsgiPartKind.Error:
                            if (!body.TooLarge || context.Response.HasStarted)
                            {
                                Fail(context, part.Error!);
                            }

                            return false;
                        case AsgiPartKind.TransportFailed:
                            part.Failure!.Respond(context, _logger);
                            return false;
                        default:
                            // Done: the app returned without a complete response (the client had gone; anything else is
                            // the Error before it).
                            return false;
                    }
                }
                finally
                {
                    part.Release();
                }
            }
        }

        return false;
    }

    private bool TryStart(HttpContext context, GatewayResponse response, AsgiPart part)
    {
        try
        {
            // ASGI sends no reason phrase: the standard one goes out, as uvicorn sends it.
            response.Start($"{part.Status} {ReasonPhrases.GetReasonPhrase(part.Status)}", part.Headers!);
            return true;
        }
        catch (ArgumentException ex)
        {
            // The status or a header breaks HTTP's rules (the same as for a WSGI app's start_response).
            Fail(context, new PythonAppException("AppError", $"{ex.Message} (http.response.start; app {_appSpec})", ""));
            return false;
        }
    }

    // One log event naming the rule or the exception, and the app; the client gets a 500, or a cut connection once the
    // response started.
    private void Fail(HttpContext context, PythonAppException error)
    {
        if (context.RequestAborted.IsCancellationRequested)
        {
            // The client had gone: the app's failure (Starlette's ClientDisconnect, say) is its consequence, and the
            // request's end is logged as an abort.
            return;
        }

        var started = context.Response.HasStarted;
        _logger.AsgiAppFailed(context.Request.Method, context.Request.Path, _appSpec, started ? "the response had started, so the connection was cut" : "answered 500", error);
        if (started)
        {
            context.Abort();
            return;
        }

        context.Response.Clear();
        context.Response.StatusCode = StatusCodes.Status500InternalServerError;
    }

    private void RejectTooLarge(HttpContext context, long limit)
    {
        _logger.AsgiBodyTooLarge(context.Request.Path, limit);
        context.Response.StatusCode = StatusCodes.Status413PayloadTooLarge;
    }

    // The request body on its way to the app.
    private sealed class RequestBody
    {
        /// <summary>Set (before the app is told the client is gone) when the body passed Kestrel's MaxRequestBodySize.</summary>
        public volatile bool TooLarge;

        // Reads the body a piece at a time, each sent once the app has read all but a window of what came before.
        public async Task PumpAsync(HttpRequest request, AsgiCall call, CancellationToken cancellationToken)
        {
            var remaining = request.ContentLength;
            var buffer = ArrayPool<byte>.Shared.Rent(BodyPiece);
            try
            {
                while (true)
                {
                    var read = await request.Body.ReadAsync(buffer.AsMemory(0, BodyPiece), cancellationToken);
                    remaining -= read;
                    var more = read > 0 && remaining is not 0;
                    await call.SendAsync(FrameType.AsgiBody, more ? FrameFlags.More : (byte)0, buffer.AsMemory(0, read), cancellationToken);
                    if (!more)
                    {
                        return;
                    }
                }
            }
            catch (BadHttpRequestException ex) when (ex.StatusCode == StatusCodes.Status413PayloadTooLarge)
            {
                TooLarge = true;
                call.Disconnect();
            }
            catch (Exception ex) when (ex is IOException or OperationCanceledException or BadHttpRequestException)
            {
                // The client went, or sent a broken body: for the app, the client is gone.
                call.Disconnect();
            }
            finally
            {
                ArrayPool<byte>.Shared.Return(buffer);
            }
        }
    }
}
