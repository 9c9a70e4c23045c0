using System.Diagnostics;
using System.IO.Pipes;
using Microsoft.Extensions.Logging;

namespace GatewayBridge.Python;

/// <summary>
/// Starting the worker script as a process of its own (a worker, or the template of a preloaded app), and logging what
/// a worker writes to stdout and stderr a line at a time under its pid, whoever started it.
/// </summary>
internal static class WorkerProcess
{
    /// <summary>
    /// Starts <c>python3 gatewaybridge_worker.py</c>, which connects to the host with <paramref name="secret"/>;
    /// <paramref name="exited"/> gets its exit status once it has ended (.NET's: 128 + the signal for a signal).
    /// </summary>
    public static Process Start(WorkerRuntime runtime, string secret, ILoggerFactory loggers, Action<int> exited)
    {
        var start = new ProcessStartInfo(runtime.Installation.Executable)
        {
            UseShellExecute = false,
            RedirectStandardInput = true,
            RedirectStandardOutput = true,
            RedirectStandardError = true,
        };
        start.ArgumentList.Add(runtime.WorkerScript);
        start.Environment["GATEWAYBRIDGE_SOCKET"] = runtime.SocketPath;
        start.Environment["GATEWAYBRIDGE_WORKER_TOKEN"] = secret;
        start.Environment["GATEWAYBRIDGE_HOST_TOKEN"] = runtime.HostToken;
        start.Environment.Remove("PYTHONSTARTUP");
        var process = Process.Start(start) ?? throw new InvalidOperationException($"Could not start '{start.FileName}'.");
        var pid = process.Id;

        // stdin at its end, as gunicorn's workers have it; stdout and stderr logged a line at a time.
        process.StandardInput.Close();
        var stdout = loggers.CreateLogger(PythonHostSink.StdoutCategory);
        var stderr = loggers.CreateLogger(PythonHostSink.StderrCategory);
        process.OutputDataReceived += (_, line) => { if (line.Data is { } text) { stdout.WorkerStdout(pid, text); } };
        process.ErrorDataReceived += (_, line) => { if (line.Data is { } text) { stderr.WorkerStderr(pid, text); } };
        process.BeginOutputReadLine();
        process.BeginErrorReadLine();

        // The Exited event, not WaitForExitAsync: that also waits for the end of stdout and stderr, which a child the app
        // started keeps open after the worker is gone.
        var reported = 0;
        void Report()
        {
            if (Interlocked.Exchange(ref reported, 1) == 0)
            {
                exited(process.ExitCode);
            }
        }

        process.Exited += (_, _) => Report();
        process.EnableRaisingEvents = true;
        if (process.HasExited)
        {
            Report();
        }

        return process;
    }

    /// <summary>A pipe whose write end goes to a forked worker as its stdout or stderr.</summary>
    public static AnonymousPipeServerStream OutputPipe() => new(PipeDirection.In, HandleInheritability.None);

    /// <summary>Logs each line a forked worker writes to <paramref name="pipe"/> under its pid, until the pipe's end.</summary>
    public static async Task LogLinesAsync(AnonymousPipeServerStream pipe, int pid, bool isStderr, ILoggerFactory loggers)
    {
        var logger = loggers.CreateLogger(isStderr ? PythonHostSink.StderrCategory : PythonHostSink.StdoutCategory);
        using (pipe)
        using (var reader = new StreamReader(pipe))
        {
            try
            {
                while (await reader.ReadLineAsync().ConfigureAwait(false) is { } line)
                {
                    if (isStderr)
                    {
                        logger.WorkerStderr(pid, line);
                    }
                    else
                    {
                        logger.WorkerStdout(pid, line);
                    }
                }
            }
            catch (IOException)
            {
            }
        }
    }
}
