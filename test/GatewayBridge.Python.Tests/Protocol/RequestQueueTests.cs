using GatewayBridge.Python.Tests.Infrastructure;

namespace GatewayBridge.Python.Tests.Protocol;

/// <summary>A worker's request queue: one Request frame a message, taken by the worker or taken back by the host, never both.</summary>
public sealed class RequestQueueTests : IDisposable
{
    private readonly RequestQueue _queue = new();

    public void Dispose() => _queue.Dispose();

    [Fact]
    public void RequestsTakenBack_ComeOldestFirst_EachOnce()
    {
        foreach (var id in new uint[] { 3, 4, 9 })
        {
            Assert.True(_queue.TrySend(Frames.Bytes(FrameWriter.Request(id, "REQUEST_METHOD\0GET", null, null))));
        }

        Assert.Equal([3u], _queue.TakeBack(1));
        Assert.Equal([4u, 9u], _queue.TakeBack());
        Assert.Empty(_queue.TakeBack());
    }

    [Fact]
    public void AFullQueue_RefusesARequest_InsteadOfWaiting()
    {
        var frame = Frames.Bytes(FrameWriter.Request(1, "REQUEST_METHOD\0GET", null, null));
        var sent = 0;
        while (_queue.TrySend(frame))
        {
            // Bounded by the send buffer's bytes (a connected pair has no limit on the count of messages).
            Assert.True(++sent < 1_000_000, "the queue never filled");
        }

        Assert.True(sent > 0);
        Assert.Single(_queue.TakeBack(1));
        Assert.True(_queue.TrySend(frame), "a request taken back makes room");
    }

    [Fact]
    public void ARequestLargerThanAMessage_IsRefusedByTheHost_NotCut()
    {
        var frame = new byte[_queue.MessageLimit + 1];

        Assert.Throws<ArgumentException>(() => _queue.TrySend(frame));
    }

    [Fact]
    public void AQueueWhoseWorkerIsGone_TakesNothing_AndGivesNothingBack()
    {
        _queue.Dispose();

        Assert.False(_queue.TrySend(Frames.Bytes(FrameWriter.Request(1, "REQUEST_METHOD\0GET", null, null))));
        Assert.Empty(_queue.TakeBack());
    }
}
