using System.Reflection;
using Microsoft.Extensions.Logging;
using Python.Runtime;

namespace GatewayBridge.Python;

/// <summary>
/// The one CPython interpreter of the process, embedded with pythonnet and shared by every host in it. It is started
/// once and never finalized: CPython cannot be restarted in a process, and nothing an app needs happens at finalization
/// (pythonnet runs neither <c>atexit</c> nor <c>Py_Finalize</c>).
/// </summary>
internal sealed class PythonInterpreter
{
    private static readonly Lock StartLock = new();
    private static PythonInterpreter? s_current;
    private readonly PyObject _addPath;

    private PythonInterpreter(PythonInstallation installation, PyObject wsgiServer, PyObject host, PyObject apps, PyObject asgi)
    {
        Installation = installation;
        Start = wsgiServer.GetAttr("start");
        Resume = wsgiServer.GetAttr("resume");
        Close = wsgiServer.GetAttr("close");
        LoadApp = apps.GetAttr("load_app");
        Validated = apps.GetAttr("validated");
        AsgiRunner = asgi.GetAttr("run_embedded");
        _addPath = host.GetAttr("add_path");
    }

    public PythonInstallation Installation { get; }

    // The steps of gatewaybridge/wsgi.py's Server for this process; call them holding the GIL.
    public PyObject Start { get; }

    public PyObject Resume { get; }

    public PyObject Close { get; }

    public PyObject LoadApp { get; }

    public PyObject Validated { get; }

    /// <summary>The ASGI server's <c>run_embedded</c> (gatewaybridge/asgi.py); call it holding the GIL.</summary>
    public PyObject AsgiRunner { get; }

    /// <summary>Starts the interpreter of <paramref name="installation"/>, or returns the running one if it is the same Python.</summary>
    public static PythonInterpreter Get(PythonInstallation installation, LogLevel rootLevel, ILogger logger)
    {
        lock (StartLock)
        {
            if (s_current is { } current)
            {
                if (current.Installation.Executable != installation.Executable)
                {
                    throw new InvalidOperationException(
                        $"This process already runs the Python interpreter of '{current.Installation.Executable}' (Python {current.Installation.Version}), " +
                        $"and PythonOptions.Python asks for '{installation.Executable}' (Python {installation.Version}). A process embeds one CPython " +
                        "interpreter: give every host the same PythonOptions.Python, or run the other Python in another process.");
                }

                return current;
            }

            return s_current = Initialize(installation, rootLevel, logger);
        }
    }

    private static PythonInterpreter Initialize(PythonInstallation installation, LogLevel rootLevel, ILogger logger)
    {
        if (PythonEngine.IsInitialized)
        {
            // Whoever started it holds its GIL and its settings; taking it over would end in a fatal CPython error.
            throw new InvalidOperationException(
                "Python was already started in this process by other code (pythonnet's PythonEngine.Initialize); GatewayBridge.Python must start the interpreter itself.");
        }

        Runtime.PythonDLL = installation.Library!;
        PythonEngine.Initialize(setSysArgv: false);

        // pythonnet's exit handler takes the GIL to tidy up, so a Python thread that holds it (a busy loop, a C call)
        // would hang process exit; the tidying frees nothing the operating system does not reclaim anyway.
        var onExit = typeof(PythonEngine).GetMethod("OnProcessExit", BindingFlags.NonPublic | BindingFlags.Static);
        if (onExit is not null)
        {
            AppDomain.CurrentDomain.ProcessExit -= onExit.CreateDelegate<EventHandler>();
        }
        else
        {
            logger.ExitHandlerNotRemoved();
        }

        // Initialize leaves the GIL with this thread; every other thread would wait for it forever.
        PythonEngine.BeginAllowThreads();

        // The shim's package, written where this interpreter imports it from first: before the app's folders, so that
        // no module of an app's can stand in for one of the shim's.
        var shim = Directory.CreateTempSubdirectory("gatewaybridge-python-");
        PythonShim.Write(shim.FullName);
        AppDomain.CurrentDomain.ProcessExit += (_, _) => DeleteFolder(shim);

        using (Py.GIL())
        {
            using var sys = Py.Import("sys");
            using (var sysPath = sys.GetAttr("path"))
            using (var folder = new PyString(shim.FullName))
            {
                sysPath.InvokeMethod("insert", new PyInt(0), folder).Dispose();
            }

            // The embedded interpreter sees what the chosen python3 sees: its sys.path (a virtual environment's
            // site-packages among it), its prefixes, and itself as sys.executable for apps that start Python processes.
            using var host = Py.Import("gatewaybridge.host");
            using var apps = Py.Import("gatewaybridge.apps");
            using var asgi = Py.Import("gatewaybridge.asgi");
            using var adopt = host.GetAttr("adopt");
            using var path = new PyList(installation.Path.Select(p => (PyObject)new PyString(p)).ToArray());
            using var executable = new PyString(installation.Executable);
            using var prefix = new PyString(installation.Prefix);
            using var execPrefix = new PyString(installation.ExecPrefix);
            adopt.Invoke(path, executable, prefix, execPrefix).Dispose();

            using var install = host.GetAttr("install");
            using var sink = new PythonHostSink().ToPython();
            using var level = new PyInt(PythonLogLevels.ToPython(rootLevel));
            using var installed = install.Invoke(sink, level);
            using var wsgiServer = installed[0];
            using (var stdout = installed[1])
            using (var stderr = installed[2])
            {
                // What is written to sys.stdout's and sys.stderr's descriptors rather than to the objects (a
                // subprocess, C code) comes back through these pipes, a line at a time.
                PythonHostSink.ReadLines(stdout.As<int>(), PythonHostSink.StdoutCategory);
                PythonHostSink.ReadLines(stderr.As<int>(), PythonHostSink.StderrCategory);
            }

            AppDomain.CurrentDomain.ProcessExit += (_, _) => RunAtexit(logger);
            return new PythonInterpreter(installation, wsgiServer, host, apps, asgi);
        }
    }

    private static void DeleteFolder(DirectoryInfo folder)
    {
        try
        {
            folder.Delete(recursive: true);
        }
        catch (IOException)
        {
        }
    }

    // Python's atexit handlers run when the process exits, as they would when its interpreter ends (pythonnet never
    // finalizes it). On a thread of their own with a bounded wait: a Python thread stuck holding the GIL must not
    // hold up the exit.
    private static void RunAtexit(ILogger logger)
    {
        var thread = new Thread(() =>
        {
            using (Py.GIL())
            {
                using var atexit = Py.Import("atexit");
                using var run = atexit.GetAttr("_run_exitfuncs");
                run.Invoke().Dispose();
            }
        })
        { IsBackground = true, Name = "GatewayBridge Python atexit" };
        thread.Start();
        if (!thread.Join(TimeSpan.FromSeconds(5)))
        {
            logger.AtexitTimedOut(5);
        }
    }

    /// <summary>Puts <paramref name="folders"/> on <c>sys.path</c>, each once, right after the shim's own folder.</summary>
    public void AddPath(IEnumerable<string> folders)
    {
        using (Py.GIL())
        {
            using var list = new PyList(folders.Select(f => (PyObject)new PyString(f)).ToArray());
            _addPath.Invoke(list).Dispose();
        }
    }
}
