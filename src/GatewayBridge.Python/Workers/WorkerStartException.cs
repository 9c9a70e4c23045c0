namespace GatewayBridge.Python;

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
