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
    /// <summary>.NET reads it once, when the first asynchronous socket is made.</summary>
    public const string InlineCompletions = "DOTNET_SYSTEM_NET_SOCKETS_INLINE_COMPLETIONS";

    /// <summary>
    /// Socket completions run on the thread that polled them rather than hop to the thread pool: the bytes a worker sent
    /// go on to Kestrel on that thread. Called before any socket is made; a value the user set is kept.
    /// </summary>
    public static void BeforeFirstSocket()
    {
        if (Environment.GetEnvironmentVariable(InlineCompletions) is null)
        {
            Environment.SetEnvironmentVariable(InlineCompletions, "1");
        }
    }

    /// <summary>Kestrel runs the request pipeline on the thread that read the request, instead of queueing it.</summary>
    public static void Apply(IWebHostBuilder web) => web.UseSockets(o => o.UnsafePreferInlineScheduling = true);
}
