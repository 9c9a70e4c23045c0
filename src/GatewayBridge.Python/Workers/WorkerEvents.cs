namespace GatewayBridge.Python;

/// <summary>What a worker tells whoever supervises it; the worker knows nothing else of them.</summary>
/// <param name="RetireAsked">It asks to be replaced: its memory passed the limit, it got SIGTERM, or it served its MaxRequests.</param>
/// <param name="CallEnded">A call's last frame came (on the connection's reader thread).</param>
/// <param name="Exited">The process ended; the calls it held have failed.</param>
internal sealed record WorkerEvents(Action<Worker, RetireReason> RetireAsked, Action<Worker> CallEnded, Action<Worker, WorkerExit> Exited);

/// <summary>How a worker's process ended.</summary>
/// <param name="Status">Its exit status (.NET's: 128 + the signal for a process a signal ended).</param>
/// <param name="Was">The state it was in.</param>
/// <param name="Reason">Why it was retiring or stopping, if the host had chosen that.</param>
/// <param name="Held">The calls it held, which failed.</param>
internal readonly record struct WorkerExit(int Status, WorkerState Was, RetireReason? Reason, int Held);
