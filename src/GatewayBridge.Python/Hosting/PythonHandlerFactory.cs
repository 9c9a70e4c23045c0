using System.Diagnostics.Metrics;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;
using Microsoft.Extensions.Options;

namespace GatewayBridge.Python;

/// <summary>Builds the handler behind the Python apps' <c>Use*</c> and <c>Map*</c> entry points, in the mode the options choose.</summary>
internal static class PythonHandlerFactory
{
    public static GatewayRequestHandler Create(IServiceProvider services, string appSpec, Action<GatewayOptions> configure)
    {
        var host = services.GetService<EmbeddedPythonHost>() ?? throw new InvalidOperationException(
            "Python WSGI apps need the Python host: call builder.Services.AddPython() before mounting one.");
        var python = services.GetRequiredService<IOptions<PythonOptions>>().Value;
        var options = GatewayHandlerFactory.CreateOptions(configure);

        // The validator of a Python app is CPython's own wsgiref.validate.
        var validate = GatewayHandlerFactory.ShouldValidate(services, options);
        if (python.Workers > 0)
        {
            // A body kept in memory travels in the request's frame; one that spills goes by its file's path.
            ArgumentOutOfRangeException.ThrowIfGreaterThan(options.MemoryBufferThreshold, WorkerProtocol.MaxPayload / 2, "GatewayOptions.MemoryBufferThreshold (for a Python app in worker processes)");
            var pool = services.GetRequiredService<PythonWorkers>().Start(appSpec, validate, options.QueueLimit, asgi: false).Pool;
            return GatewayHandlerFactory.Create(services, options, (_, logger) => new WorkerAppInvoker(pool, appSpec, logger));
        }

        var app = host.LoadApp(appSpec, validate);
        return GatewayHandlerFactory.Create(services, options, (_, logger) => new EmbeddedAppInvoker(app, appSpec, host, options.QueueLimit, logger));
    }

    /// <summary>The handler behind <c>UsePythonAsgiApp</c> and <c>MapPythonAsgiApp</c>: the app's loop in the host's interpreter, or its workers.</summary>
    public static IGatewayRequestHandler CreateAsgi(IServiceProvider services, string appSpec, Action<GatewayOptions> configure)
    {
        var host = services.GetService<EmbeddedPythonHost>() ?? throw new InvalidOperationException(
            "Python ASGI apps need the Python host: call builder.Services.AddPython() before mounting one.");
        var python = services.GetRequiredService<IOptions<PythonOptions>>().Value;
        var options = GatewayHandlerFactory.CreateOptions(configure);
        var loggers = services.GetService<ILoggerFactory>() ?? NullLoggerFactory.Instance;
        var logger = loggers.CreateLogger<AsgiRequestHandler>();
        var metrics = new GatewayMetrics(services.GetService<IMeterFactory>());
        services.GetService<IHostApplicationLifetime>()?.ApplicationStopped.Register(metrics.Dispose);
        IAsgiServer server = python.Workers > 0
            ? new WorkerAsgiServer(services.GetRequiredService<PythonWorkers>().Start(appSpec, validate: false, options.QueueLimit, asgi: true).Pool)
            : host.StartAsgi(appSpec);
        return new AsgiRequestHandler(server, appSpec, options, logger, metrics);
    }
}
