using System.Net.Sockets;
using GatewayBridge.Python.Tests.Infrastructure;

namespace GatewayBridge.Python.Tests.Protocol;

/// <summary>
/// One connection and its calls, played against a raw socket: ids in order, each frame to the call it names, the one
/// rule for ids (never opened: the connection ends; ended: ignored), and every call failed once the server is gone.
/// </summary>
public sealed class FramedConnectionTests : IDisposable
{
    private readonly Socket _server;
    private readonly FramedConnection _connection;
    private readonly TaskCompletionSource<Exception?> _closed = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private readonly System.Collections.Concurrent.ConcurrentQueue<FrameType> _control = new();

    public FramedConnectionTests()
    {
        var (host, server) = Pair();
        _server = server;
        _connection = new FramedConnection(host);
        _connection.StartReading((type, _, _, _) => _control.Enqueue(type), _ => { }, error => _closed.TrySetResult(error));
    }

    public void Dispose()
    {
        _connection.Dispose();
        _server.Dispose();
    }

    [Fact]
    public async Task Calls_GetIdsInOrder_AndTheirFirstFrameGoesOutInThatOrder()
    {
        var first = Open();
        var second = Open();

        Assert.Equal([1u, 2u], new[] { first.Id, second.Id });
        var received = await ReceiveAsync(2 * (WorkerProtocol.HeaderSize + 4));
        Assert.Equal(1u, BitConverter.ToUInt32(received, 6));
        Assert.Equal(2u, BitConverter.ToUInt32(received, WorkerProtocol.HeaderSize + 4 + 6));
    }

    [Fact]
    public async Task AFrame_GoesToTheCallItNames_AndItsLastFrameEndsTheCall()
    {
        var first = Open();
        var second = Open();

        await SendAsync(FrameWriter.Response(2, FrameFlags.Whole | FrameFlags.End, null, 0, "two"u8));

        await second.Finished.WaitAsync(TimeSpan.FromSeconds(10));
        Assert.False(first.Finished.IsCompleted);
        Assert.Equal(1, _connection.OpenCalls);
    }

    [Fact]
    public async Task AFrameForACallThatHasEnded_IsIgnored()
    {
        var call = Open();
        await SendAsync(FrameWriter.Response(call.Id, FrameFlags.End, null, 0, default));
        await call.Finished.WaitAsync(TimeSpan.FromSeconds(10));

        await SendAsync(FrameWriter.Response(call.Id, FrameFlags.End, null, 0, default));
        await SendAsync(FrameWriter.Frame(FrameType.Goodbye));

        await Eventually.HoldsAsync(() => _control.Contains(FrameType.Goodbye), "the frame after the late one read");
        Assert.False(_closed.Task.IsCompleted, "a late frame ended the connection");
    }

    [Theory]
    [InlineData(5u)]
    [InlineData(0u)]
    public async Task AFrameForAnIdNeverOpened_EndsTheConnection(uint id)
    {
        Open();

        await SendAsync(FrameWriter.Response(id, FrameFlags.End, null, 0, default));

        var error = await _closed.Task.WaitAsync(TimeSpan.FromSeconds(10));
        Assert.IsType<InvalidDataException>(error);
        Assert.Contains($"for call {id}, which was never opened", error!.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void FailAll_FailsEveryOpenCall_TheNeverStartedOnesAsNeverSent_AndEveryCallOpenedAfter()
    {
        var started = Open();
        var notStarted = Open();

        _connection.FailAll(TransportFailure.Worker(42, "exited with status 1"), call => call.Id == notStarted.Id);
        var later = Open();

        Assert.False(started.Failure!.NeverSent);
        Assert.True(notStarted.Failure!.NeverSent);
        Assert.True(later.Failure!.NeverSent);
        Assert.Equal(0, _connection.OpenCalls);
        Assert.Equal("Python worker 42", started.Failure.Server);
    }

    [Fact]
    public async Task AWsgiCall_StoppedAsItsLastFrameArrives_SendsNoCancel()
    {
        // As the request's code does: it reads the last part on the reader's thread, and stops, before the connection
        // has completed the call.
        var call = _connection.Open(id => new WsgiCall(_connection, id, "/"), c => _connection.Send(FrameWriter.Count(FrameType.Credit, c.Id, 1)));
        async Task StopAtTheLastPartAsync()
        {
            await call.Parts.WaitToReadAsync().ConfigureAwait(false);
            Assert.True(call.Parts.TryRead(out var part));
            part.Release();
            call.Stop();
        }

        var stopping = StopAtTheLastPartAsync();
        await SendAsync(FrameWriter.Response(call.Id, FrameFlags.Whole | FrameFlags.End, "200 OK", 0, "done"u8));
        await stopping.WaitAsync(TimeSpan.FromSeconds(10));
        _connection.Send(FrameWriter.Frame(FrameType.Stop));

        var sent = await ReceiveAsync(WorkerProtocol.HeaderSize + 4 + WorkerProtocol.HeaderSize);
        Assert.Equal(FrameType.Stop, (FrameType)sent[WorkerProtocol.HeaderSize + 4 + 4]);
    }

    [Fact]
    public void ACallWhoseFirstFrameCannotBeBuilt_IsNotLeftOpen()
    {
        Assert.Throws<InvalidOperationException>(() => _connection.Open(id => new WsgiCall(_connection, id, "/"), _ => throw new InvalidOperationException("too large")));

        Assert.Equal(0, _connection.OpenCalls);
    }

    private RecordingCall Open() =>
        _connection.Open(id => new RecordingCall(_connection, id), call => _connection.Send(FrameWriter.Count(FrameType.Credit, call.Id, 1)));

    private Task SendAsync(FrameBuilder frame) => _server.SendAsync(Frames.Bytes(frame));

    private async Task<byte[]> ReceiveAsync(int count)
    {
        var buffer = new byte[count];
        var read = 0;
        while (read < count)
        {
            read += await _server.ReceiveAsync(buffer.AsMemory(read));
        }

        return buffer;
    }

    private static (Socket, Socket) Pair()
    {
        var path = Path.Combine(Path.GetTempPath(), $"gatewaybridge-test-{Guid.NewGuid():N}.sock");
        using var listener = new Socket(AddressFamily.Unix, SocketType.Stream, ProtocolType.Unspecified);
        listener.Bind(new UnixDomainSocketEndPoint(path));
        listener.Listen(1);
        var client = new Socket(AddressFamily.Unix, SocketType.Stream, ProtocolType.Unspecified);
        client.Connect(new UnixDomainSocketEndPoint(path));
        var server = listener.Accept();
        File.Delete(path);
        return (client, server);
    }

    private sealed class RecordingCall(FramedConnection connection, uint id) : FramedCall(connection, id, "/")
    {
        private readonly TaskCompletionSource _finished = new(TaskCreationOptions.RunContinuationsAsynchronously);

        public Task Finished => _finished.Task;

        public TransportFailure? Failure { get; private set; }

        public override bool OnFrame(FrameType type, byte flags, ReadOnlySpan<byte> payload) => (flags & FrameFlags.End) != 0;

        public override void Complete() => _finished.TrySetResult();

        public override void Fail(TransportFailure failure)
        {
            Failure = failure;
            _finished.TrySetResult();
        }

        public override void Abandon()
        {
        }
    }
}
