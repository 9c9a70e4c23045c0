using System.Diagnostics.Metrics;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;

namespace GatewayBridge;

internal static class GatewayHandlerFactory
{
    // Needs nothing registered beyond what every host has; a bare IServiceProvider still works with no logging.
    public static GatewayRequestHandler Create(IServiceProvider services, GatewayApp gatewayApp, Action<GatewayOptions> configure)
    {
        var options = new GatewayOptions();
        configure(options);
        var validate = options.UseValidator ?? services.GetService<IHostEnvironment>()?.IsDevelopment() ?? false;
        if (validate)
        {
            gatewayApp = GatewayValidator.Wrap(gatewayApp);
        }

        ArgumentOutOfRangeException.ThrowIfNegative(options.MaxInlineCalls, "GatewayOptions.MaxInlineCalls");
        ArgumentOutOfRangeException.ThrowIfLessThan(options.WorkerThreads, 1, "GatewayOptions.WorkerThreads");
        ArgumentOutOfRangeException.ThrowIfNegative(options.QueueLimit, "GatewayOptions.QueueLimit");

        var loggerFactory = services.GetService<ILoggerFactory>() ?? NullLoggerFactory.Instance;
        var handler = new GatewayRequestHandler(gatewayApp, options, loggerFactory, services.GetService<IMeterFactory>());

        // The worker threads end with the host.
        services.GetService<IHostApplicationLifetime>()?.ApplicationStopped.Register(handler.Dispose);
        return handler;
    }
}
