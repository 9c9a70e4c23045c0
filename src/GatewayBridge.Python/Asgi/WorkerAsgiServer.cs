using Microsoft.Extensions.Logging;

namespace GatewayBridge.Python;

/// <summary>An ASGI app in worker processes: each request goes to the least loaded worker, every worker's loop serving many at once.</summary>
internal sealed class WorkerAsgiServer(WorkerPool pool, ILogger logger) : IAsgiServer
{
    public bool HasRoom => pool.HasRoom;

    public async ValueTask<AsgiCall> StartAsync(byte type, byte flags, byte[] frame, int length, string path, CancellationToken cancellationToken)
    {
        while (true)
        {
            var call = await pool.DispatchAsync(
                worker => worker.Dispatch(
                    (connection, id) => new AsgiCall(connection, id, path, logger),
                    call => call.Start(type, flags, frame, length)),
                cancellationToken);
            if (!call.NeverSent)
            {
                return call;
            }

            // The worker died between being chosen and being sent the scope: nothing reached Python, so another takes it.
            call.Stop();
        }
    }
}
