namespace GatewayBridge.Python;

/// <summary>
/// Where an ASGI app runs: its worker processes, or a loop on a thread of the host's interpreter. Both speak the
/// frames of <c>gatewaybridge_asgi.py</c>.
/// </summary>
internal interface IAsgiServer
{
    /// <summary>Whether a new request may be admitted without overflowing the queue of requests waiting for a server.</summary>
    bool HasRoom { get; }

    /// <summary>
    /// Sends the scope (<paramref name="frame"/>: a frame whose header is written here, <paramref name="length"/> bytes
    /// of payload) to a server with room for one more request, now or once one has; returns the call.
    /// </summary>
    ValueTask<AsgiCall> StartAsync(byte type, byte flags, byte[] frame, int length, string path, CancellationToken cancellationToken);
}
