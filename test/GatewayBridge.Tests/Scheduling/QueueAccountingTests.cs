namespace GatewayBridge.Tests.Scheduling;

public class QueueAccountingTests
{
    [Fact]
    public void HasRoom_UntilTheLimitIsReached_AndAgainOnceACallLeaves()
    {
        using var metrics = new GatewayMetrics(null);
        var accounting = new QueueAccounting(2, metrics);

        var first = accounting.Enqueue();
        Assert.True(accounting.HasRoom);
        accounting.Enqueue();
        Assert.False(accounting.HasRoom);
        Assert.Equal(2, accounting.Queued);

        accounting.Dequeue(first);
        Assert.True(accounting.HasRoom);
        accounting.Leave();
        Assert.Equal(0, accounting.Queued);
    }

    [Fact]
    public void HasRoomWithin_AppliesAnAppsOwnLimit_ToASharedQueue()
    {
        using var metrics = new GatewayMetrics(null);
        var shared = new QueueAccounting(int.MaxValue, metrics);
        shared.Enqueue();

        Assert.False(shared.HasRoomWithin(1));
        Assert.True(shared.HasRoomWithin(2));
        Assert.True(shared.HasRoom);
    }

    [Fact]
    public void AWorkQueue_RefusesCallsOnceCompleted_WithoutCountingThem()
    {
        using var metrics = new GatewayMetrics(null);
        using var queue = new WorkQueue<string>(new QueueAccounting(4, metrics));
        Assert.True(queue.TryAdd("first"));
        queue.CompleteAdding();

        Assert.False(queue.TryAdd("late"));
        Assert.Equal(1, queue.Accounting.Queued);
        Assert.True(queue.TryTake(out var item));
        Assert.Equal("first", item);
        Assert.Equal(0, queue.Accounting.Queued);
        Assert.False(queue.TryTake(out _, Timeout.Infinite));
    }
}
