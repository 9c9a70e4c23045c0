namespace GatewayBridge.Python;

/// <summary>
/// Options for the host's Python apps, WSGI and ASGI alike: which Python runs them, and whether in the host's own
/// interpreter or in supervised worker processes.
/// </summary>
public sealed class PythonOptions
{
    /// <summary>
    /// The <c>python3</c> executable of the installation or virtual environment to use: a name looked up on
    /// <c>PATH</c>, or a path (a relative one is taken against the content root). In the host's interpreter its shared
    /// library, prefix and <c>sys.path</c> are read from it; worker processes run it. The default value is <c>python3</c>.
    /// </summary>
    public string Python { get; set; } = "python3";

    /// <summary>
    /// Folders put first on <c>sys.path</c>, such as the folder that holds the app's modules; relative ones are taken
    /// against the content root. The default value is an empty list.
    /// </summary>
    public IList<string> PythonPath { get; } = new List<string>();

    /// <summary>
    /// 0 runs the apps in the host's own interpreter; N ≥ 1 runs each mounted app in N supervised worker processes of
    /// <see cref="Python"/> (gunicorn's <c>--workers</c>): every core, hung calls cut, leaks recycled, crashes contained.
    /// The default value is 0.
    /// </summary>
    public int Workers { get; set; }

    /// <summary>
    /// The Python threads that run app code, per process: blocking calls overlap up to this many. <see langword="null"/>
    /// means 8 in the host's interpreter and 1 per worker process (one request at a time per worker, gunicorn's sync
    /// model, safe for apps that are not thread-safe). The default value is <see langword="null"/>.
    /// </summary>
    public int? Threads { get; set; }

    /// <summary>
    /// How long one call into app code (the app, one step of its iterable, its <c>close()</c>) may run in a worker:
    /// then the stuck thread's Python traceback is logged, the worker is stopped and replaced, and the request answers
    /// 504 (or is cut, once its response started). A long download that keeps producing chunks is never cut.
    /// <see langword="null"/> never cuts. Only for <see cref="Workers"/> ≥ 1. The default value is 30 seconds.
    /// </summary>
    public TimeSpan? Timeout { get; set; } = TimeSpan.FromSeconds(30);

    /// <summary>
    /// A worker that has served this many requests (plus a random 0 to <see cref="MaxRequestsJitter"/>) is replaced
    /// once they are done, as gunicorn's <c>--max-requests</c> contains slow leaks; 0 never replaces one.
    /// The default value is 0.
    /// </summary>
    public int MaxRequests { get; set; }

    /// <summary>
    /// The most requests added at random to <see cref="MaxRequests"/> for each worker, so that workers started together
    /// are not all replaced at once. The default value is 0.
    /// </summary>
    public int MaxRequestsJitter { get; set; }

    /// <summary>
    /// A worker whose own memory (USS: the pages no other process shares, from <c>/proc/&lt;pid&gt;/smaps_rollup</c>) passes
    /// this many bytes after a request is replaced once its requests are done. Pages a preloaded worker still shares with
    /// its template do not count. <see langword="null"/> sets no limit. The default value is <see langword="null"/>.
    /// </summary>
    public long? MaxWorkerMemory { get; set; }

    /// <summary>
    /// Imports each app once, in a template process, and forks its workers from it (gunicorn's <c>--preload</c>): the
    /// pages of the app's code and data stay shared between the workers (the template calls <c>gc.freeze()</c> so the
    /// garbage collector does not touch them), and a replacement worker starts in milliseconds. A reload starts a new
    /// template with the new code first. Only for <see cref="Workers"/> ≥ 1. The default value is <see langword="false"/>.
    /// </summary>
    public bool Preload { get; set; }

    /// <summary>
    /// A function, as <c>module:function</c>, that each worker calls with no arguments once it has the app, before it
    /// serves: what must not be shared between forked workers (database connections, random seeds) is opened there.
    /// One that raises fails the worker's start. Only for <see cref="Workers"/> ≥ 1. The default value is
    /// <see langword="null"/>.
    /// </summary>
    public string? PostFork { get; set; }

    /// <summary>
    /// Replaces the workers with freshly imported code whenever a <c>*.py</c> file (or one matching
    /// <see cref="ReloadIncludes"/>) under <see cref="PythonPath"/> changes, as <c>gunicorn --reload</c> and
    /// <c>uvicorn --reload</c> do; a change that does not import leaves the running workers serving and logs why. For
    /// development; only for <see cref="Workers"/> ≥ 1 (the host's interpreter cannot unload modules). The default
    /// value is <see langword="false"/>.
    /// </summary>
    public bool Reload { get; set; }

    /// <summary>
    /// File name patterns (<c>*.html</c>, <c>settings.toml</c>) whose change reloads too, beside <c>*.py</c>. The
    /// default value is an empty list.
    /// </summary>
    public IList<string> ReloadIncludes { get; } = new List<string>();

    /// <summary>
    /// How long a worker being replaced or stopped may take to finish its requests (and run its <c>atexit</c>
    /// handlers) before it is killed. The default value is 30 seconds.
    /// </summary>
    public TimeSpan GracefulTimeout { get; set; } = TimeSpan.FromSeconds(30);

    /// <summary>Throws for values out of range, naming the option.</summary>
    internal void Validate()
    {
        ArgumentOutOfRangeException.ThrowIfNegative(Workers, "PythonOptions.Workers");
        if (Threads is int threads)
        {
            ArgumentOutOfRangeException.ThrowIfLessThan(threads, 1, "PythonOptions.Threads");
        }

        if (Timeout is TimeSpan timeout)
        {
            ArgumentOutOfRangeException.ThrowIfLessThanOrEqual(timeout, TimeSpan.Zero, "PythonOptions.Timeout");
        }

        ArgumentOutOfRangeException.ThrowIfNegative(MaxRequests, "PythonOptions.MaxRequests");
        ArgumentOutOfRangeException.ThrowIfNegative(MaxRequestsJitter, "PythonOptions.MaxRequestsJitter");
        if (MaxWorkerMemory is long memory)
        {
            ArgumentOutOfRangeException.ThrowIfLessThanOrEqual(memory, 0, "PythonOptions.MaxWorkerMemory");
        }

        ArgumentOutOfRangeException.ThrowIfLessThan(GracefulTimeout, TimeSpan.Zero, "PythonOptions.GracefulTimeout");
        if (Workers == 0 && (Reload || Preload))
        {
            throw new InvalidOperationException(
                $"PythonOptions.{(Reload ? "Reload" : "Preload")} needs worker processes: the host's own interpreter cannot unload or fork an app's " +
                "modules. Set PythonOptions.Workers to 1 or more (--workers 1 in the serve tool).");
        }

        if (PostFork is { } hook && (!hook.Contains(':', StringComparison.Ordinal) || Workers == 0))
        {
            throw new ArgumentException($"PythonOptions.PostFork names a function as module:function, for worker processes (Workers ≥ 1), not '{hook}'.", "PythonOptions.PostFork");
        }
    }
}
