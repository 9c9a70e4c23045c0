using System.Diagnostics;

namespace GatewayBridge.TestSupport;

/// <summary>
/// The one way a test waits for something that happens on another thread or in another process, when there is no event
/// to await: it asks again until the answer is the one it waits for, and fails naming what never happened. Never a sleep
/// that hopes the other side got there.
/// </summary>
public static class Eventually
{
    /// <summary>How long a test waits for anything by default: long enough for a loaded CI machine, short of a hang.</summary>
    public static readonly TimeSpan Patience = TimeSpan.FromSeconds(30);

    /// <summary>Waits until <paramref name="condition"/> holds; fails with <paramref name="what"/> if it never does.</summary>
    public static async Task HoldsAsync(Func<bool> condition, string what, TimeSpan? within = null, TimeSpan? interval = null)
    {
        await ReturnsAsync(() => Task.FromResult(condition()), done => done, what, within, interval);
    }

    /// <summary>
    /// Asks <paramref name="probe"/> until <paramref name="done"/> says its answer is the one waited for, and returns that
    /// answer; fails with <paramref name="what"/> (and the last answer) if it never comes.
    /// </summary>
    public static async Task<T> ReturnsAsync<T>(Func<Task<T>> probe, Func<T, bool> done, string what, TimeSpan? within = null, TimeSpan? interval = null)
    {
        var deadline = Stopwatch.GetTimestamp() + (long)((within ?? Patience).TotalSeconds * Stopwatch.Frequency);
        var pause = interval ?? TimeSpan.FromMilliseconds(20);
        while (true)
        {
            var answer = await probe();
            if (done(answer))
            {
                return answer;
            }

            if (Stopwatch.GetTimestamp() > deadline)
            {
                throw new Xunit.Sdk.XunitException($"Never happened within {(within ?? Patience).TotalSeconds:0.#} s: {what} (the last answer: {answer}).");
            }

            await Task.Delay(pause);
        }
    }
}
