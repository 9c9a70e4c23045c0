namespace GatewayBridge.Python.Tests.Asgi;

/// <summary>The router app in both modes, shared by a test class: index 0 in the host's interpreter, 1 in a worker process.</summary>
public sealed class AsgiHosts : IAsyncLifetime
{
    private readonly TestHost?[] _hosts = new TestHost?[2];

    public TestHost this[int workers] => _hosts[workers] ?? throw new InvalidOperationException("not started");

    public async Task InitializeAsync()
    {
        _hosts[0] = await AsgiHost.StartAsync(0);
        _hosts[1] = await AsgiHost.StartAsync(1);
    }

    public async Task DisposeAsync()
    {
        foreach (var host in _hosts)
        {
            if (host is not null)
            {
                await host.DisposeAsync();
            }
        }
    }
}
