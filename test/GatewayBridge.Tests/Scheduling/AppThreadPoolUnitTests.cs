using System.Diagnostics.Metrics;
using Microsoft.Extensions.DependencyInjection;

namespace GatewayBridge.Tests.Scheduling;

/// <summary>The pool on its own: where each call runs, how its threads start and stop, what a caller gets back.</summary>
public sealed class AppThreadPoolUnitTests : IDisposable
{
    private readonly ServiceProvider _services = new ServiceCollection().AddMetrics().BuildServiceProvider();
    private readonly MeterListener _listener = new();
    private long _threads;

    public AppThreadPoolUnitTests()
    {
        var factory = _services.GetRequiredService<IMeterFactory>();
        _listener.InstrumentPublished = (instrument, listener) =>
        {
            if (ReferenceEquals(instrument.Meter.Scope, factory) && instrument.Name == "gatewaybridge.app_threads")
            {
                listener.EnableMeasurementEvents(instrument);
            }
        };
        _listener.SetMeasurementEventCallback<long>((_, value, _, _) => Interlocked.Add(ref _threads, value));
        _listener.Start();
        Metrics = new GatewayMetrics(factory);
    }

    private GatewayMetrics Metrics { get; }

    public void Dispose()
    {
        Metrics.Dispose();
        _listener.Dispose();
        _services.Dispose();
    }

    [Fact]
    public async Task OneInlineSlot_TakesOneCall_TheNextGoesToAnAppThread_ThatStartsThen()
    {
        using var pool = new AppThreadPool(maxInline: 1, maxThreads: 8, queueLimit: 10, Metrics);
        using var release = new ManualResetEventSlim();
        Assert.Equal(0, Interlocked.Read(ref _threads));

        // The first call holds the inline slot (blocking on a thread of its own); the second cannot run inline.
        var entered = new TaskCompletionSource<int>();
        var first = Task.Run(() => pool.InvokeAsync(_ => { entered.SetResult(Environment.CurrentManagedThreadId); release.Wait(TimeSpan.FromSeconds(10)); return 1; }, 0, default).AsTask());
        var firstThread = await entered.Task.WaitAsync(TimeSpan.FromSeconds(10));
        var second = await pool.InvokeAsync(_ => Thread.CurrentThread, 0, default);
        release.Set();
        await first;

        Assert.NotEqual(firstThread, second.ManagedThreadId);
        Assert.Equal("GatewayBridge app thread 1", second.Name);
        Assert.True(second.IsBackground, "an app thread must never keep the process alive");
        Assert.Equal(1, Interlocked.Read(ref _threads));
    }

    [Fact]
    public async Task AnIdleThread_IsReused_NoSecondOneStarts()
    {
        using var pool = new AppThreadPool(maxInline: 0, maxThreads: 8, queueLimit: 10, Metrics);

        var first = await pool.InvokeAsync(_ => Thread.CurrentThread, 0, default);
        Assert.True(SpinWait.SpinUntil(() => pool.IdleThreads == 1, TimeSpan.FromSeconds(5)), "the thread never went back to waiting");
        var second = await pool.InvokeAsync(_ => Thread.CurrentThread, 0, default);

        Assert.Equal(1, Interlocked.Read(ref _threads));
        Assert.Same(first, second);
    }

    [Fact]
    public async Task BlockingCalls_RunSideBySide_EachOnAThreadOfItsOwn()
    {
        // The first call can only finish once the second has run: with fewer threads than calls, it would time out.
        using var pool = new AppThreadPool(maxInline: 0, maxThreads: 3, queueLimit: 10, Metrics);
        using var secondRan = new ManualResetEventSlim();

        var first = pool.InvokeAsync(_ => secondRan.Wait(TimeSpan.FromSeconds(10)), 0, default).AsTask();
        var second = pool.InvokeAsync(_ => { secondRan.Set(); return true; }, 0, default).AsTask();

        Assert.True(await first.WaitAsync(TimeSpan.FromSeconds(20)), "the second call waited behind the first");
        Assert.True(await second);
    }

    [Fact]
    public async Task CallsArrivingTogether_AtOneIdleThread_DoNotQueueBehindEachOther()
    {
        // One warm, idle thread and a burst of blocking calls that each wait for all the others: each must get a
        // thread, even those that came while the idle one was still free and so started none. Several rounds, since
        // whether a burst lands before the idle thread wakes is up to the scheduler.
        for (var round = 0; round < 10; round++)
        {
            using var pool = new AppThreadPool(maxInline: 0, maxThreads: 8, queueLimit: 20, Metrics);
            await pool.InvokeAsync(_ => 0, 0, default);
            Assert.True(SpinWait.SpinUntil(() => pool.IdleThreads == 1, TimeSpan.FromSeconds(5)));
            const int calls = 4;
            var allRunning = new CountdownEvent(calls);

            var burst = Enumerable.Range(0, calls)
                .Select(_ => pool.InvokeAsync(_ => { allRunning.Signal(); return allRunning.Wait(TimeSpan.FromSeconds(10)); }, 0, default).AsTask())
                .ToArray();

            Assert.All(await Task.WhenAll(burst).WaitAsync(TimeSpan.FromSeconds(30)), ran => Assert.True(ran, $"round {round}: a call waited behind another"));
        }
    }

    [Fact]
    public async Task WhatAThreadsCallThrows_ReachesTheCaller()
    {
        using var pool = new AppThreadPool(maxInline: 0, maxThreads: 1, queueLimit: 10, Metrics);
        var thrown = new InvalidOperationException("from the app");

        var caught = await Assert.ThrowsAsync<InvalidOperationException>(async () => await pool.InvokeAsync<int, int>(_ => throw thrown, 0, default));

        Assert.Same(thrown, caught);
    }

    [Fact]
    public async Task ACallCancelledWhileQueued_NeverRuns_AndItsCallerSeesTheCancellation()
    {
        using var pool = new AppThreadPool(maxInline: 0, maxThreads: 1, queueLimit: 10, Metrics);
        using var release = new ManualResetEventSlim();
        var busy = pool.InvokeAsync(_ => release.Wait(TimeSpan.FromSeconds(10)), 0, default).AsTask();
        using var leaving = new CancellationTokenSource();
        var ran = false;

        var queued = pool.InvokeAsync(_ => ran = true, 0, leaving.Token).AsTask();
        await leaving.CancelAsync();
        release.Set();
        await busy;

        await Assert.ThrowsAnyAsync<OperationCanceledException>(() => queued.WaitAsync(TimeSpan.FromSeconds(10)));
        Assert.False(ran);
    }

    [Fact]
    public async Task Disposing_StopsTheThreads_AndRefusesNewCalls()
    {
        var pool = new AppThreadPool(maxInline: 0, maxThreads: 1, queueLimit: 10, Metrics);
        var thread = await pool.InvokeAsync(_ => Thread.CurrentThread, 0, default);

        pool.Dispose();

        Assert.True(thread.Join(TimeSpan.FromSeconds(10)), "the app thread outlived its pool");
        Assert.Equal(0, Interlocked.Read(ref _threads));
        // Refused at once: queued after the threads stopped, the call would wait forever.
        Assert.Throws<InvalidOperationException>(() => { _ = pool.InvokeAsync(_ => 1, 0, default).AsTask(); });
    }

    [Fact]
    public async Task Disposing_CancelsTheCallsStillQueued_AndLetsTheRunningOneFinish()
    {
        var pool = new AppThreadPool(maxInline: 0, maxThreads: 1, queueLimit: 1, Metrics);
        using var release = new ManualResetEventSlim();
        var entered = new TaskCompletionSource();
        var running = pool.InvokeAsync(_ => { entered.SetResult(); return release.Wait(TimeSpan.FromSeconds(10)); }, 0, default).AsTask();
        await entered.Task.WaitAsync(TimeSpan.FromSeconds(10));
        var queuedRan = false;
        var queued = pool.InvokeAsync(_ => queuedRan = true, 0, default).AsTask();
        Assert.False(pool.HasRoom);

        pool.Dispose();

        await Assert.ThrowsAnyAsync<OperationCanceledException>(() => queued.WaitAsync(TimeSpan.FromSeconds(10)));
        release.Set();
        Assert.True(await running.WaitAsync(TimeSpan.FromSeconds(10)));
        Assert.False(queuedRan);
        Assert.True(pool.HasRoom, "a cancelled call still counted as queued");
    }

    [Fact]
    public void AMeterOfItsOwn_IsDisposedWithIt_AFactorysIsLeftToTheFactory()
    {
        var completed = new List<string>();
        var factory = _services.GetRequiredService<IMeterFactory>();
        using var listener = new MeterListener
        {
            InstrumentPublished = (instrument, l) =>
            {
                if (instrument.Meter.Name == GatewayMetrics.MeterName)
                {
                    l.EnableMeasurementEvents(instrument, ReferenceEquals(instrument.Meter.Scope, factory) ? "factory" : instrument.Meter.Scope is null ? "own" : "other");
                }
            },
            MeasurementsCompleted = (_, state) =>
            {
                lock (completed)
                {
                    completed.Add((string)state!);
                }
            },
        };
        listener.Start();

        new GatewayMetrics(null).Dispose();
        new GatewayMetrics(factory).Dispose();

        lock (completed)
        {
            Assert.Contains("own", completed);
            Assert.DoesNotContain("factory", completed);
        }
    }
}
