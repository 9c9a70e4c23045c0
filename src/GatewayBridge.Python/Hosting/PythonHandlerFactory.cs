using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Options;

namespace GatewayBridge.Python;

/// <summary>Builds the handler behind <c>UsePythonWsgiApp</c> and <c>MapPythonWsgiApp</c>, in the mode the options choose.</summary>
internal static class PythonHandlerFactory
{
    public static GatewayRequestHandler Create(IServiceProvider services, string appSpec, Action<GatewayOptions> configure)
    {
        var host = services.GetService<EmbeddedPythonHost>() ?? throw new InvalidOperationException(
            "Python WSGI apps need the Python host: call builder.Services.AddPythonWsgi() before mounting one.");
        var python = services.GetRequiredService<IOptions<PythonWsgiOptions>>().Value;
        var options = GatewayHandlerFactory.CreateOptions(configure);

        // The validator of a Python app is CPython's own wsgiref.validate.
        var validate = GatewayHandlerFactory.ShouldValidate(services, options);
        if (python.Workers > 0)
        {
            var pool = services.GetRequiredService<WorkerSupervisor>().CreatePool(appSpec, validate, options.QueueLimit);
            return GatewayHandlerFactory.Create(services, options, (_, logger) => new WorkerAppInvoker(pool, logger));
        }

        var app = host.LoadApp(appSpec, validate);
        return GatewayHandlerFactory.Create(services, options, (_, logger) => new EmbeddedAppInvoker(app, host, options.QueueLimit, logger));
    }
}
