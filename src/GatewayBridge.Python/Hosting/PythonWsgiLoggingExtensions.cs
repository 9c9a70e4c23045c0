using Microsoft.Extensions.Logging;

namespace GatewayBridge.Python;

internal static partial class PythonWsgiLoggingExtensions
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
}
