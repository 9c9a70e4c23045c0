using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.Logging;

namespace GatewayBridge.Python;

internal static partial class PythonLoggingExtensions
{
    [LoggerMessage(EventId = 200, Message = "{Message}")]
    public static partial void PythonRecord(this ILogger logger, LogLevel level, string message, Exception? exception);

    [LoggerMessage(201, LogLevel.Information, "{Line}")]
    public static partial void PythonStdout(this ILogger logger, string line);

    [LoggerMessage(202, LogLevel.Warning, "{Line}")]
    public static partial void PythonStderr(this ILogger logger, string line);

    [LoggerMessage(210, LogLevel.Information, "Embedded Python {Version} from {Executable} ({Library}).")]
    public static partial void InterpreterStarted(this ILogger logger, string version, string executable, string library);

    [LoggerMessage(211, LogLevel.Information, "Loaded the Python WSGI app {AppSpec}.")]
    public static partial void AppLoaded(this ILogger logger, string appSpec);

    [LoggerMessage(212, LogLevel.Warning, "{Count} Python threads were still running app code when the host stopped; they were interrupted (KeyboardInterrupt).")]
    public static partial void ThreadsInterrupted(this ILogger logger, int count);

    [LoggerMessage(213, LogLevel.Critical, "A Python thread failed outside any request; it goes on serving.")]
    public static partial void PythonThreadFailed(this ILogger logger, Exception exception);

    [LoggerMessage(214, LogLevel.Warning, "pythonnet's process-exit handler was not found to remove; process exit may wait for a Python thread that holds the GIL.")]
    public static partial void ExitHandlerNotRemoved(this ILogger logger);

    [LoggerMessage(215, LogLevel.Warning, "Python's atexit handlers did not finish within {Seconds} s of the process exit; the process exits without them.")]
    public static partial void AtexitTimedOut(this ILogger logger, double seconds);

    [LoggerMessage(220, LogLevel.Information, "Worker {WorkerPid}: {Line}")]
    public static partial void WorkerStdout(this ILogger logger, int workerPid, string line);

    [LoggerMessage(221, LogLevel.Warning, "Worker {WorkerPid}: {Line}")]
    public static partial void WorkerStderr(this ILogger logger, int workerPid, string line);

    [LoggerMessage(222, LogLevel.Information, "Python {Version} from {Executable} runs the apps in {Workers} worker processes each, {Threads} threads per worker.")]
    public static partial void WorkersStarting(this ILogger logger, string version, string executable, int workers, int threads);

    [LoggerMessage(223, LogLevel.Information, "Python worker {WorkerPid} of {AppSpec} is ready (Python {Version}).")]
    public static partial void WorkerStarted(this ILogger logger, string appSpec, int workerPid, string version);

    [LoggerMessage(224, LogLevel.Error, "Python worker {WorkerPid} of {AppSpec} exited with {ExitStatus} while it held {Requests} requests; they failed, and the worker is replaced.")]
    public static partial void WorkerExited(this ILogger logger, string appSpec, int workerPid, string exitStatus, int requests);

    [LoggerMessage(225, LogLevel.Error, "A request for {Path} ran app code in Python worker {WorkerPid} for longer than the timeout of {TimeoutSeconds} s; the worker is killed and replaced. Its Python threads were at:\n{Traceback}")]
    public static partial void WorkerTimedOut(this ILogger logger, string path, int workerPid, double timeoutSeconds, string traceback);

    [LoggerMessage(226, LogLevel.Information, "Python worker {WorkerPid} of {AppSpec} is replaced ({Reason}) after {Served} requests; it stops once its requests are done.")]
    public static partial void WorkerRetiring(this ILogger logger, string appSpec, int workerPid, string reason, int served);

    [LoggerMessage(227, LogLevel.Warning, "Python worker {WorkerPid} did not stop within {GraceSeconds} s; it was killed.")]
    public static partial void WorkerKilled(this ILogger logger, int workerPid, double graceSeconds);

    [LoggerMessage(228, LogLevel.Error, "A new Python worker {WorkerPid} of {AppSpec} could not start: {Message}. It is tried again.\n{Traceback}")]
    public static partial void WorkerStartFailed(this ILogger logger, string appSpec, int workerPid, string message, string traceback);

    [LoggerMessage(229, LogLevel.Warning, "Python workers of {AppSpec} keep failing; the next is started in {DelaySeconds} s.")]
    public static partial void WorkerRestartDelayed(this ILogger logger, string appSpec, double delaySeconds);

    [LoggerMessage(230, LogLevel.Error, "Python worker {WorkerPid} broke the protocol ({Message}); it is killed and replaced.")]
    public static partial void WorkerProtocolError(this ILogger logger, int workerPid, string message);

    [LoggerMessage(231, LogLevel.Warning, "A connection to the Python workers' socket was refused: {Reason}.")]
    public static partial void UnexpectedConnection(this ILogger logger, string reason);

    [LoggerMessage(232, LogLevel.Warning, "{Method} {Path} failed with {StatusCode}: {Server} {Reason}.")]
    public static partial void PythonRequestFailed(this ILogger logger, string method, PathString path, int statusCode, string server, string reason);

    [LoggerMessage(233, LogLevel.Error, "The ASGI loop of {AppSpec} in the host's interpreter broke the worker protocol ({Message}); its requests failed, and it takes no more.")]
    public static partial void PythonLoopProtocolError(this ILogger logger, string appSpec, string message);

    [LoggerMessage(234, LogLevel.Information, "The template of {AppSpec} (pid {TemplatePid}) has imported it: its workers are forked from it.")]
    public static partial void TemplateReady(this ILogger logger, string appSpec, int templatePid);

    [LoggerMessage(235, LogLevel.Error, "The template of {AppSpec} (pid {TemplatePid}) exited with {ExitStatus}; a new one is started.")]
    public static partial void TemplateExited(this ILogger logger, string appSpec, int templatePid, string exitStatus);

    [LoggerMessage(236, LogLevel.Error, "A new template of {AppSpec} could not start (pid {TemplatePid}): {Message}; the workers go on serving.\n{PythonTraceback}")]
    public static partial void TemplateStartFailed(this ILogger logger, string appSpec, int templatePid, string message, string pythonTraceback);

    [LoggerMessage(237, LogLevel.Information, "{Path} changed: the workers of {AppSpec} are replaced with the new code.")]
    public static partial void SourceChanged(this ILogger logger, string path, string appSpec);

    [LoggerMessage(238, LogLevel.Error, "The code of {AppSpec} changed but does not load; the running workers go on serving. {Message}")]
    public static partial void ReloadFailed(this ILogger logger, string appSpec, string message);

    [LoggerMessage(239, LogLevel.Warning, "Reload on save stopped watching {Folder}: {Message}. On Linux, a folder with many subfolders (a virtual environment, node_modules) may need a larger fs.inotify.max_user_watches, or the app's code in a folder of its own.")]
    public static partial void ReloadWatchFailed(this ILogger logger, string folder, string message);

    [LoggerMessage(240, LogLevel.Error, "{Method} {Path}: the Python ASGI app {AppSpec} failed; {Outcome}.")]
    public static partial void AsgiAppFailed(this ILogger logger, string method, PathString path, string appSpec, string outcome, Exception exception);

    [LoggerMessage(241, LogLevel.Error, "The Python ASGI app failed for {Path} after its request had ended.")]
    public static partial void AsgiAppFailedAfterResponse(this ILogger logger, string path, Exception exception);

    [LoggerMessage(242, LogLevel.Warning, "A WebSocket request for {Path} reached the Python ASGI app as plain HTTP: call app.UseWebSockets() before mounting the app to serve WebSockets.")]
    public static partial void WebSocketsNotEnabled(this ILogger logger, PathString path);

    [LoggerMessage(243, LogLevel.Information, "The request body for {Path} is larger than Kestrel's MaxRequestBodySize of {Limit} bytes; answered 413.")]
    public static partial void AsgiBodyTooLarge(this ILogger logger, PathString path, long limit);
}
