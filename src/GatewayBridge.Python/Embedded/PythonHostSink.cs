using System.Buffers;
using System.Diagnostics.CodeAnalysis;
using Microsoft.Extensions.Logging;
using Microsoft.Win32.SafeHandles;
using Python.Runtime;

namespace GatewayBridge.Python;

/// <summary>
/// What Python calls back into (gatewaybridge/host.py and wsgi.py): logging records, <c>print()</c> and <c>sys.stderr</c> lines,
/// <c>wsgi.errors</c> lines and <c>write()</c>. One per process, installed with the interpreter; pythonnet releases
/// the GIL around each call.
/// </summary>
/// <remarks>
/// A record goes to the logging of the host whose Python thread wrote it; a thread the app started itself logs to the
/// host that started last among those still running. Public instance members, because pythonnet binds those on the
/// object Python holds.
/// </remarks>
[SuppressMessage("Performance", "CA1822:Mark members as static", Justification = "Python calls them on the sink object.")]
internal sealed class PythonHostSink
{
    public const string StdoutCategory = "GatewayBridge.Python.Stdout";
    public const string StderrCategory = "GatewayBridge.Python.Stderr";

    private static readonly Lock HostsLock = new();
    private static readonly List<ILoggerFactory> Hosts = [];

    [ThreadStatic]
    private static ILoggerFactory? t_loggers;

    [ThreadStatic]
    private static PythonCall? t_call;

    private static volatile ILoggerFactory? s_latest;

    /// <summary>The call the current worker thread runs, for <c>write()</c>.</summary>
    public static PythonCall? CurrentCall
    {
        get => t_call;
        set => t_call = value;
    }

    private static ILoggerFactory? Loggers => t_loggers ?? s_latest;

    /// <summary>Marks the current thread as one of the host logging to <paramref name="loggers"/> (a Python thread, its ASGI loop).</summary>
    public static void EnterHostThread(ILoggerFactory loggers) => t_loggers = loggers;

    public static void HostStarted(ILoggerFactory loggers)
    {
        lock (HostsLock)
        {
            Hosts.Add(loggers);
            s_latest = loggers;
        }
    }

    /// <summary>A stopped host's logging may be disposed; records of the app's own threads go to a host still running.</summary>
    public static void HostStopped(ILoggerFactory loggers)
    {
        lock (HostsLock)
        {
            Hosts.Remove(loggers);
            s_latest = Hosts.Count > 0 ? Hosts[^1] : null;
        }
    }

    public void Log(string name, int level, string message, string? detail) => Emit(name, logger =>
    {
        var mapped = PythonLogLevels.FromPython(level);
        if (logger.IsEnabled(mapped))
        {
            logger.PythonRecord(mapped, message, detail is null ? null : new PythonAppException(name, message, detail));
        }
    });

    public void Stdout(string line) => Emit(StdoutCategory, logger => logger.PythonStdout(line));

    public void Stderr(string line) => Emit(StderrCategory, logger => logger.PythonStderr(line));

    public void ErrorsLine(string line) => Emit(ErrorsTextWriter.Category, logger => logger.AppErrorsLine(line));

    /// <summary>
    /// PEP 3333's <c>write()</c> for the call <paramref name="callId"/>: the bytes (after the headers, the first time)
    /// are handed to its response before this returns; <see langword="false"/> once the response is gone.
    /// </summary>
    public bool Write(long callId, string? head, PyObject data)
    {
        var call = CurrentCall;
        if (call is null || call.Id != callId)
        {
            data.Dispose();
            throw new InvalidOperationException(
                "write() was called outside the request it belongs to; call it from the app while that request runs.");
        }

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

        return call.PostWithoutGil(WsgiResponsePart.Chunk(head, buffer, length));
    }

    /// <summary>
    /// Logs each line read from the pipe behind a Python stream's descriptor, on a thread of its own, for the life of
    /// the process: what a subprocess or C code writes there has no Python thread, so it goes to the latest host.
    /// </summary>
    public static void ReadLines(int descriptor, string category)
    {
        var thread = new Thread(() =>
        {
            using var reader = new StreamReader(new FileStream(new SafeFileHandle(descriptor, ownsHandle: true), FileAccess.Read, bufferSize: 0));
            while (reader.ReadLine() is { } line)
            {
                Emit(category, logger =>
                {
                    if (category == StdoutCategory)
                    {
                        logger.PythonStdout(line);
                    }
                    else
                    {
                        logger.PythonStderr(line);
                    }
                });
            }
        })
        { IsBackground = true, Name = $"GatewayBridge {category}" };
        thread.Start();
    }

    // A line that has no host left to go to (the last one stopped, or its logging was disposed) is dropped: raising
    // into the app's logger.info() would break the app for a log line.
    private static void Emit(string category, Action<ILogger> log)
    {
        try
        {
            if (Loggers?.CreateLogger(category) is { } logger)
            {
                log(logger);
            }
        }
        catch (ObjectDisposedException)
        {
        }
    }
}
