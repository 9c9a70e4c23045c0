namespace GatewayBridge.Python;

/// <summary>What every worker of an app is started with.</summary>
/// <param name="AppSpec">The app, for the log.</param>
/// <param name="Config">The Config frame's JSON for a worker, given its own files and limits.</param>
/// <param name="StartTimeout">How long it may take to connect and load the app.</param>
/// <param name="GracefulTimeout">How long it may take to finish what it holds once told to stop.</param>
/// <param name="Asgi">Whether it serves an ASGI app (it is then told to stop at once when retired).</param>
internal sealed record WorkerSettings(string AppSpec, Func<WorkerFiles, byte[]> Config, TimeSpan StartTimeout, TimeSpan GracefulTimeout, bool Asgi);

/// <summary>What a worker's Config names that is the worker's own.</summary>
/// <param name="Traceback">The file its faulthandler writes every thread's traceback to on SIGUSR1.</param>
/// <param name="Scoreboard">The file it writes the id of the last request it took to.</param>
/// <param name="RequestLimit">The largest message of its request queue (0: it has none, an ASGI worker).</param>
/// <param name="Template">Whether the process is the template of a preloaded app rather than a worker.</param>
internal readonly record struct WorkerFiles(string Traceback, string Scoreboard, int RequestLimit, bool Template = false);
