using System.Diagnostics;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.Logging;

namespace GatewayBridge.Python;

/// <summary>
/// Where an ASGI app runs: its worker processes, or a loop on a thread of the host's interpreter. Both speak the worker
/// protocol over a <see cref="FramedConnection"/>.
/// </summary>
internal interface IAsgiServer
{
    /// <summary>Whether a new request may be admitted without overflowing the queue of requests waiting for a server.</summary>
    bool HasRoom { get; }

    /// <summary>
    /// Opens the request's call on a server with room for one more, now or once one has: its scope goes out in the
    /// call's first frame.
    /// </summary>
    ValueTask<AsgiCall> OpenAsync(AsgiRequest request, CancellationToken cancellationToken);
}

/// <summary>An ASGI request or WebSocket on its way to a server: what its call and its scope are made of.</summary>
internal sealed record AsgiRequest(HttpContext Context, string RootPath, string PathInfo, bool WebSocket, byte Flags, string AppSpec, ILogger Logger)
{
    /// <summary>
    /// Opens the call on <paramref name="connection"/> (a worker's: <paramref name="workerPid"/>), its scope in its first
    /// frame; its time in the app is a span, whose traceparent the app gets.
    /// </summary>
    public AsgiCall Open(FramedConnection connection, int? workerPid = null)
    {
        var request = PythonTracing.RequestSpan(Context);
        var span = PythonTracing.Start("python.app", request, AppSpec);
        if (workerPid is { } pid)
        {
            PythonTracing.Worker(span, pid);
        }

        var trace = PythonTracing.Headers(span, request);
        try
        {
            return connection.Open(
                id => new AsgiCall(connection, id, Context.Request.Path.Value!, WebSocket, Logger) { Span = span },
                call => connection.Send(AsgiScope.Frame(Context, RootPath, PathInfo, WebSocket, call.Id, Flags, trace)));
        }
        catch
        {
            span?.Stop();
            throw;
        }
    }
}
