using Microsoft.AspNetCore.Hosting;

namespace GatewayBridge.Serve;

/// <summary>
/// How <c>serve</c> runs Kestrel for a Python app. Nothing of such a host blocks a .NET thread (the app runs in worker
/// processes or on Python's own threads, and every wait on it is asynchronous), so the thread hops that protect a .NET
/// app from its own blocking calls are pure cost here: each costs a wake-up and a context switch per request on each
/// side. docs/operations.md shows the same settings for a host of one's own, and why they are not the library's default.
/// </summary>
internal static class PythonServingDefaults
{
    /// <summary>.NET reads these once, when the first asynchronous socket is made.</summary>
    public const string InlineCompletions = "DOTNET_SYSTEM_NET_SOCKETS_INLINE_COMPLETIONS";

    /// <summary>How many threads poll the sockets (with inline completions, .NET's default is one per core).</summary>
    public const string PollingThreads = "DOTNET_SYSTEM_NET_SOCKETS_THREAD_COUNT";

    /// <summary>
    /// Socket completions run on the thread that polled them rather than hop to the thread pool: the bytes a worker sent
    /// go on to Kestrel on that thread. One polling thread per four cores: a client's socket and its worker's are then
    /// mostly polled by the same thread, which handles several events per wake-up (python-load.sh, Flask on 2 workers,
    /// 2 cores: the host's CPU per request 51 µs with two polling threads, 37 µs with one, and 1.5 context switches per
    /// request against 0.65). Called before any socket is made; a value the user set is kept.
    /// </summary>
    public static void BeforeFirstSocket()
    {
        SetUnlessSet(InlineCompletions, "1");
        SetUnlessSet(PollingThreads, $"{Math.Max(1, Environment.ProcessorCount / 4)}");
    }

    private static void SetUnlessSet(string name, string value)
    {
        if (Environment.GetEnvironmentVariable(name) is null)
        {
            Environment.SetEnvironmentVariable(name, value);
        }
    }

    /// <summary>Kestrel runs the request pipeline on the thread that read the request, instead of queueing it.</summary>
    public static void Apply(IWebHostBuilder web) => web.UseSockets(o => o.UnsafePreferInlineScheduling = true);
}
