namespace GatewayBridge.Python;

/// <summary>
/// Why a worker process failed a request it held: answered 502 (it died, broke the protocol) or 504 (it timed out);
/// or, for a request it was sent ahead but never started, a <see cref="Retry"/> on another worker.
/// </summary>
internal sealed record WorkerFailure(int StatusCode, int Pid, string Reason)
{
    /// <summary>The request never reached app code: it goes to another worker.</summary>
    public bool Retry => StatusCode == 0;
}

/// <summary>A worker process that could not start its app: its pid, what happened, and the app's traceback.</summary>
internal sealed class WorkerStartException : Exception
{
    public WorkerStartException(int pid, string message, string pythonTraceback)
        : base($"the worker {message}")
    {
        Pid = pid;
        PythonTraceback = pythonTraceback;
    }

    public int Pid { get; }

    public string PythonTraceback { get; }
}
