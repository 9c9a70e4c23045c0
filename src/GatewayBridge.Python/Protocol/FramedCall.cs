namespace GatewayBridge.Python;

/// <summary>
/// One call on a <see cref="FramedConnection"/>: a WSGI request on a worker, or an ASGI request or WebSocket on a
/// worker or the host's loop. The connection gives it its id, hands it the frames that carry that id, and fails it
/// when the connection's server is gone.
/// </summary>
internal abstract class FramedCall
{
    protected FramedCall(FramedConnection connection, uint id, string path)
    {
        Connection = connection;
        Id = id;
        Path = path;
    }

    public FramedConnection Connection { get; }

    /// <summary>When the call was opened (a Stopwatch timestamp), for the status page's "for how long".</summary>
    public long Opened { get; } = System.Diagnostics.Stopwatch.GetTimestamp();

    public uint Id { get; }

    /// <summary>Its span in the app (<see cref="PythonTracing"/>), stopped when the call ends.</summary>
    public System.Diagnostics.Activity? Span { get; set; }

    /// <summary>The request's path, for the log.</summary>
    public string Path { get; }

    /// <summary>Handles a frame its server sent for it; returns whether it was the call's last.</summary>
    public abstract bool OnFrame(FrameType type, byte flags, ReadOnlySpan<byte> payload);

    /// <summary>The server is done with the call: its last frame came.</summary>
    public abstract void Complete();

    /// <summary>The server failed the call without answering it.</summary>
    public abstract void Fail(TransportFailure failure);

    /// <summary>The request's client left before the call was handed to it: the server is told, as it would be later.</summary>
    public abstract void Abandon();

    /// <summary>Whether app code has run for it past <paramref name="limit"/> (Stopwatch ticks) without progress.</summary>
    public virtual bool IsStuck(long now, long limit, bool started) => false;
}
