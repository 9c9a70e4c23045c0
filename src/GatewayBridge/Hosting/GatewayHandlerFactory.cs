using System.Diagnostics.Metrics;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;

namespace GatewayBridge;

/// <summary>Builds the handler behind a <c>Use*</c> or <c>Map*</c> entry point, for any kind of app.</summary>
internal static class GatewayHandlerFactory
{
    public static GatewayRequestHandler Create(IServiceProvider services, GatewayApp gatewayApp, Action<GatewayOptions> configure)
    {
        var options = CreateOptions(configure);
        if (ShouldValidate(services, options))
        {
            gatewayApp = GatewayValidator.Wrap(gatewayApp);
        }

        return Create(services, options, (metrics, logger) =>
            new GatewayAppInvoker(gatewayApp, new AppThreadPool(options.MaxInlineCalls, options.AppThreads, options.QueueLimit, metrics), logger));
    }

    /// <summary>Options as configured, with their ranges checked where the mistake is made.</summary>
    public static GatewayOptions CreateOptions(Action<GatewayOptions> configure)
    {
        var options = new GatewayOptions();
        configure(options);
        ArgumentOutOfRangeException.ThrowIfNegative(options.MemoryBufferThreshold, "GatewayOptions.MemoryBufferThreshold");
        ArgumentOutOfRangeException.ThrowIfNegative(options.BufferBodyLimit.GetValueOrDefault(), "GatewayOptions.BufferBodyLimit");
        ArgumentOutOfRangeException.ThrowIfNegative(options.MaxInlineCalls, "GatewayOptions.MaxInlineCalls");
        ArgumentOutOfRangeException.ThrowIfLessThan(options.AppThreads, 1, "GatewayOptions.AppThreads");
        ArgumentOutOfRangeException.ThrowIfNegative(options.QueueLimit, "GatewayOptions.QueueLimit");
        return options;
    }

    /// <summary><see cref="GatewayOptions.UseValidator"/>, with <see langword="null"/> meaning the Development environment.</summary>
    public static bool ShouldValidate(IServiceProvider services, GatewayOptions options) =>
        options.UseValidator ?? services.GetService<IHostEnvironment>()?.IsDevelopment() ?? false;

    // Needs nothing registered beyond what every host has; a bare IServiceProvider still works with no logging.
    public static GatewayRequestHandler Create(
        IServiceProvider services, GatewayOptions options, Func<GatewayMetrics, ILogger, IGatewayAppInvoker> createInvoker)
    {
        var loggerFactory = services.GetService<ILoggerFactory>() ?? NullLoggerFactory.Instance;
        var logger = loggerFactory.CreateLogger<GatewayRequestHandler>();
        var metrics = new GatewayMetrics(services.GetService<IMeterFactory>());
        var handler = new GatewayRequestHandler(
            createInvoker(metrics, logger), options, logger, loggerFactory.CreateLogger(ErrorsTextWriter.Category), metrics);

        // The app threads end with the host.
        services.GetService<IHostApplicationLifetime>()?.ApplicationStopped.Register(handler.Dispose);
        return handler;
    }
}
