namespace GatewayBridge;

/// <summary>
/// The stage that differs between kinds of app (a .NET delegate, a Python callable in this process or in a worker
/// process): calls the app for one request, hands what it produces to the <see cref="GatewayResponse"/>, and closes
/// what the app returned exactly once, on every path.
/// </summary>
internal interface IGatewayAppInvoker : IDisposable
{
    /// <summary>Whether a new request may be admitted without overflowing the queue of calls waiting to run.</summary>
    bool HasRoom { get; }

    /// <summary>Runs the app for the request that <paramref name="environ"/> describes.</summary>
    Task InvokeAsync(EnvironDictionary environ, GatewayResponse response, CancellationToken aborted);
}
