namespace GatewayBridge.Python;

/// <summary>A worker's <see cref="RequestQueue"/> had no room for a request: its pool sends the request elsewhere.</summary>
internal sealed class RequestQueueFullException : Exception
{
    public RequestQueueFullException()
        : base("The worker's request queue is full.")
    {
    }

    public RequestQueueFullException(string message)
        : base(message)
    {
    }

    public RequestQueueFullException(string message, Exception innerException)
        : base(message, innerException)
    {
    }
}
