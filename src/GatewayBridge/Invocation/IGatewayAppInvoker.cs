namespace GatewayBridge;

/// <summary>
/// The stage that differs between kinds of app (a .NET delegate, a Python callable): calls the app for one request,
/// sends its response through the writer, and closes what the app returned exactly once, on every path.
/// </summary>
internal interface IGatewayAppInvoker : IDisposable
{
    /// <summary>Whether a new request may be admitted without overflowing the queue of calls waiting to run.</summary>
    bool HasRoom { get; }

    /// <summary>Runs the app for the request that <paramref name="environ"/> describes.</summary>
    Task InvokeAsync(EnvironDictionary environ, StartResponseState state, ResponseBodyWriter writer, CancellationToken aborted);
}
