using System.Buffers;
using System.Net.WebSockets;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.Logging;

namespace GatewayBridge.Python;

/// <summary>
/// One WebSocket of a Python ASGI app, over ASP.NET Core's WebSockets (<c>app.UseWebSockets()</c>): the handshake
/// accepted with the app's subprotocol and headers, or denied with 403 (<c>websocket.close</c> before accepting);
/// messages both ways with credit; close codes both ways, and <c>websocket.disconnect</c> when the client closes
/// or goes (1006).
/// </summary>
internal sealed class AsgiWebSocketSession : IDisposable
{
    /// <summary>
    /// The largest message taken from a client: uvicorn's default <c>ws_max_size</c>, and what one frame of the worker
    /// protocol carries. A larger one closes with 1009.
    /// </summary>
    public const int MaxMessage = WorkerProtocol.MaxPayload;

    private static readonly TimeSpan CloseWait = TimeSpan.FromSeconds(5);

    private readonly HttpContext _context;
    private readonly IAsgiServer _server;
    private readonly string _appSpec;
    private readonly ILogger _logger;
    private readonly SemaphoreSlim _sending = new(1, 1);
    private WebSocket? _socket;

    public AsgiWebSocketSession(HttpContext context, IAsgiServer server, string appSpec, ILogger logger)
    {
        _context = context;
        _server = server;
        _appSpec = appSpec;
        _logger = logger;
    }

    public async Task RunAsync(string scriptName, string pathInfo)
    {
        var aborted = _context.RequestAborted;
        AsgiCall call;
        try
        {
            call = await _server.OpenAsync(new AsgiRequest(_context, scriptName, pathInfo, true, 0, _appSpec, _logger), aborted);
        }
        catch (OperationCanceledException) when (aborted.IsCancellationRequested)
        {
            AbortedRequest.End(_context, _logger);
            return;
        }

        using var stopReceiving = CancellationTokenSource.CreateLinkedTokenSource(aborted);
        Task receiving = Task.CompletedTask;
        var cut = false;
        try
        {
            while (await call.Parts.WaitToReadAsync(aborted))
            {
                while (call.Parts.TryRead(out var part))
                {
                    try
                    {
                        if (await HandleAsync(call, part, aborted) is false)
                        {
                            return;
                        }

                        if (part.Kind == AsgiPartKind.Accept)
                        {
                            receiving = ReceiveAsync(_socket!, call, stopReceiving.Token);
                        }
                    }
                    finally
                    {
                        part.Release();
                    }
                }
            }
        }
        catch (Exception ex) when (ex is OperationCanceledException or WebSocketException or IOException && aborted.IsCancellationRequested)
        {
            // Answered below, once the app has heard.
            cut = true;
        }
        finally
        {
            // An app still running hears that the socket is gone; the client's side is given a moment to close cleanly.
            call.WebSocketDisconnect(1006);
            call.Stop();
            if (_socket is { State: WebSocketState.CloseSent })
            {
                await receiving.WaitAsync(CloseWait, CancellationToken.None).ConfigureAwait(ConfigureAwaitOptions.SuppressThrowing);
            }

            await stopReceiving.CancelAsync();
            await receiving.ConfigureAwait(ConfigureAwaitOptions.SuppressThrowing);
        }

        if (cut)
        {
            AbortedRequest.End(_context, _logger);
        }
    }

    public void Dispose() => _sending.Dispose();

    // False when the session is over.
    private async Task<bool> HandleAsync(AsgiCall call, AsgiPart part, CancellationToken aborted)
    {
        switch (part.Kind)
        {
            case AsgiPartKind.Accept:
                foreach (var (name, value) in part.Headers!)
                {
                    _context.Response.Headers.Append(name, value);
                }

                _socket = await _context.WebSockets.AcceptWebSocketAsync(new WebSocketAcceptContext { SubProtocol = part.Text });
                return true;
            case AsgiPartKind.Send:
                await SendAsync(part.Data, part.Flag ? WebSocketMessageType.Text : WebSocketMessageType.Binary, aborted);
                call.Credit(part.Length);
                return true;
            case AsgiPartKind.Close when _socket is null:
                // websocket.close before websocket.accept denies the handshake, as uvicorn denies it.
                _context.Response.StatusCode = StatusCodes.Status403Forbidden;
                call.WebSocketDisconnect(1006);
                return true;
            case AsgiPartKind.Close:
                await CloseAsync((WebSocketCloseStatus)part.Status, part.Text, aborted);
                return true;
            case AsgiPartKind.Error:
                Fail(part.Error!);
                if (_socket is not null)
                {
                    await CloseAsync(WebSocketCloseStatus.InternalServerError, null, aborted);
                }

                return true;
            case AsgiPartKind.TransportFailed:
                // Once the handshake answered 101, the response has started: the connection is cut.
                part.Failure!.Respond(_context, _logger);
                return false;
            default:
                // Done: a socket the app left open is closed normally.
                if (_socket is not null)
                {
                    await CloseAsync(WebSocketCloseStatus.NormalClosure, null, aborted);
                }

                return false;
        }
    }

    private void Fail(PythonAppException error)
    {
        var accepted = _socket is not null;
        _logger.AsgiAppFailed(_context.Request.Method, _context.Request.Path, _appSpec, accepted ? "the WebSocket was closed with 1011" : "answered 500", error);
        if (!accepted && !_context.Response.HasStarted)
        {
            _context.Response.StatusCode = StatusCodes.Status500InternalServerError;
        }
    }

    private async Task SendAsync(ReadOnlyMemory<byte> data, WebSocketMessageType type, CancellationToken cancellationToken)
    {
        await _sending.WaitAsync(cancellationToken);
        try
        {
            if (_socket is { State: WebSocketState.Open or WebSocketState.CloseReceived } socket)
            {
                await socket.SendAsync(data, type, endOfMessage: true, cancellationToken);
            }
        }
        finally
        {
            _sending.Release();
        }
    }

    private async Task CloseAsync(WebSocketCloseStatus status, string? reason, CancellationToken cancellationToken)
    {
        await _sending.WaitAsync(cancellationToken);
        try
        {
            if (_socket is { State: WebSocketState.Open or WebSocketState.CloseReceived } socket)
            {
                await socket.CloseOutputAsync(status, string.IsNullOrEmpty(reason) ? null : reason, cancellationToken);
            }
        }
        finally
        {
            _sending.Release();
        }
    }

    // The client's messages to the app (each sent once the app has read all but a window of those before), until the
    // client closes (its code goes to the app, and the close is answered) or goes (1006).
    private async Task ReceiveAsync(WebSocket socket, AsgiCall call, CancellationToken cancellationToken)
    {
        var buffer = ArrayPool<byte>.Shared.Rent(16 * 1024);
        var message = new ArrayBufferWriter<byte>(16 * 1024);
        try
        {
            while (true)
            {
                var result = await socket.ReceiveAsync(buffer.AsMemory(), cancellationToken);
                if (result.MessageType == WebSocketMessageType.Close)
                {
                    call.WebSocketDisconnect((int)(socket.CloseStatus ?? WebSocketCloseStatus.Empty));
                    await CloseAsync(socket.CloseStatus ?? WebSocketCloseStatus.NormalClosure, null, cancellationToken);
                    return;
                }

                if (message.WrittenCount + result.Count > MaxMessage)
                {
                    call.WebSocketDisconnect((int)WebSocketCloseStatus.MessageTooBig);
                    await CloseAsync(WebSocketCloseStatus.MessageTooBig, $"messages are limited to {MaxMessage} bytes", cancellationToken);
                    return;
                }

                message.Write(buffer.AsSpan(0, result.Count));
                if (result.EndOfMessage)
                {
                    var text = result.MessageType == WebSocketMessageType.Text;
                    await call.SendAsync(FrameType.WsMessage, text ? FrameFlags.Text : (byte)0, message.WrittenMemory, cancellationToken);
                    message.ResetWrittenCount();
                }
            }
        }
        catch (Exception ex) when (ex is WebSocketException or OperationCanceledException or IOException or ObjectDisposedException)
        {
            call.WebSocketDisconnect((int)(socket.CloseStatus ?? (WebSocketCloseStatus)1006));
        }
        finally
        {
            ArrayPool<byte>.Shared.Return(buffer);
        }
    }
}
