namespace GatewayBridge.Python;

/// <summary>One request on a worker process, as the worker's connection sees it: WSGI's or ASGI's.</summary>
internal interface IWorkerCall
{
    uint Id { get; }

    /// <summary>The request's path, for the worker's log events.</summary>
    string Path { get; }

    /// <summary>Whether app code has run for it past <paramref name="limit"/> (Stopwatch ticks) without progress; see <see cref="WorkerCall.IsStuck"/>.</summary>
    bool IsStuck(long now, long limit, bool started);

    /// <summary>Handles a frame the worker sent for this call; returns whether it was the last one.</summary>
    bool OnFrame(byte type, byte flags, ReadOnlySpan<byte> payload);

    /// <summary>The worker is done with the request: its last frame came.</summary>
    void Complete();

    /// <summary>The worker failed the request without answering it (it died, timed out or broke the protocol).</summary>
    void Fail(WorkerFailure failure);
}
