using System.Buffers;
using System.Diagnostics.CodeAnalysis;
using Microsoft.Extensions.Logging;
using Python.Runtime;

namespace GatewayBridge.Python;

/// <summary>
/// What Python calls back into (gatewaybridge_wsgi.py): logging records, <c>print()</c> and <c>sys.stderr</c> lines,
/// <c>wsgi.errors</c> lines and <c>write()</c>. pythonnet releases the GIL around each of these calls.
/// </summary>
/// <remarks>
/// A record goes to the logging of the host whose Python thread wrote it; a thread the app started itself logs to the
/// host that started last. Public instance members, because pythonnet binds those on the object Python holds.
/// </remarks>
[SuppressMessage("Performance", "CA1822:Mark members as static", Justification = "Python calls them on the sink object.")]
internal sealed class PythonHostSink
{
    public const string StdoutCategory = "GatewayBridge.Python.Stdout";
    public const string StderrCategory = "GatewayBridge.Python.Stderr";

    [ThreadStatic]
    private static ILoggerFactory? t_loggers;

    [ThreadStatic]
    private static PythonCall? t_call;

    private static volatile ILoggerFactory? s_latest;

    /// <summary>Marks the current thread as a worker of the host logging to <paramref name="loggers"/>.</summary>
    public static void EnterWorker(ILoggerFactory loggers) => t_loggers = loggers;

    /// <summary>The host that started last, for threads the app started itself.</summary>
    public static void SetLatest(ILoggerFactory loggers) => s_latest = loggers;

    /// <summary>The call the current worker thread runs, for <c>write()</c>.</summary>
    public static PythonCall? CurrentCall
    {
        get => t_call;
        set => t_call = value;
    }

    private static ILoggerFactory? Loggers => t_loggers ?? s_latest;

    public void Log(string name, int level, string message, string? detail)
    {
        var logger = Loggers?.CreateLogger(name);
        var mapped = PythonLogLevels.FromPython(level);
        if (logger is not null && logger.IsEnabled(mapped))
        {
            var exception = detail is null ? null : new PythonAppException(name, message, detail);
            logger.PythonRecord(mapped, message, exception);
        }
    }

    public void Stdout(string line) => Loggers?.CreateLogger(StdoutCategory).PythonStdout(line);

    public void Stderr(string line) => Loggers?.CreateLogger(StderrCategory).PythonStderr(line);

    public void ErrorsLine(string line) => Loggers?.CreateLogger(ErrorsTextWriter.Category).AppErrorsLine(line);

    /// <summary>
    /// PEP 3333's <c>write()</c>: the bytes (after the headers, the first time) are handed to the response before it
    /// returns; <see langword="false"/> once the response is gone.
    /// </summary>
    public bool Write(string? head, PyObject data)
    {
        var call = CurrentCall ?? throw new InvalidOperationException(
            "write() was called outside the thread serving its request; call it from the app while it runs.");
        byte[] buffer;
        int length;
        using (Py.GIL())
        {
            using var view = data.GetBuffer();
            length = checked((int)view.Length);
            buffer = ArrayPool<byte>.Shared.Rent(Math.Max(length, 1));
            view.Read(buffer, 0, length, 0);
            data.Dispose();
        }

        return call.Post(PythonResponsePart.Chunk(head, buffer, length), holdsGil: false);
    }
}
