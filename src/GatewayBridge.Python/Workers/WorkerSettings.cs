namespace GatewayBridge.Python;

/// <summary>What every worker of an app is started with.</summary>
/// <param name="AppSpec">The app, for the log.</param>
/// <param name="Config">The Config frame's JSON for a worker, given its traceback and scoreboard files.</param>
/// <param name="StartTimeout">How long it may take to connect and load the app.</param>
/// <param name="GracefulTimeout">How long it may take to finish what it holds once told to stop.</param>
/// <param name="Asgi">Whether it serves an ASGI app (it is then told to stop at once when retired).</param>
internal sealed record WorkerSettings(string AppSpec, Func<string, string, byte[]> Config, TimeSpan StartTimeout, TimeSpan GracefulTimeout, bool Asgi);
