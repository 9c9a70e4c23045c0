namespace GatewayBridge.Python;

/// <summary>An ASGI app in worker processes: each request goes to the least loaded worker, every worker's loop serving many at once.</summary>
internal sealed class WorkerAsgiServer(WorkerPool pool) : IAsgiServer
{
    public bool HasRoom => pool.HasRoom;

    public async ValueTask<AsgiCall> OpenAsync(AsgiRequest request, CancellationToken cancellationToken)
    {
        while (true)
        {
            var queued = PythonTracing.Start("python.queue", PythonTracing.RequestSpan(request.Context), request.AppSpec);
            AsgiCall call;
            try
            {
                call = await pool.DispatchAsync(
                    worker =>
                    {
                        PythonTracing.Worker(queued, worker.Pid);
                        return request.Open(worker.Connection, worker.Pid);
                    },
                    cancellationToken);
            }
            finally
            {
                queued?.Stop();
            }

            if (!call.NeverSent)
            {
                return call;
            }

            // The worker was gone before the scope reached it: nothing reached Python, so another takes it.
            call.Stop();
        }
    }
}
