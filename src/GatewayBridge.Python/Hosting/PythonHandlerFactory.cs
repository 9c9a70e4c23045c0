using Microsoft.Extensions.DependencyInjection;

namespace GatewayBridge.Python;

/// <summary>Builds the handler behind <c>UsePythonWsgiApp</c> and <c>MapPythonWsgiApp</c>.</summary>
internal static class PythonHandlerFactory
{
    public static GatewayRequestHandler Create(IServiceProvider services, string appSpec, Action<GatewayOptions> configure)
    {
        var host = services.GetService<EmbeddedPythonHost>() ?? throw new InvalidOperationException(
            "Python WSGI apps need the embedded interpreter: call builder.Services.AddPythonWsgi() before mounting one.");
        var options = GatewayHandlerFactory.CreateOptions(configure);

        // The validator of a Python app is CPython's own wsgiref.validate.
        var app = host.LoadApp(appSpec, GatewayHandlerFactory.ShouldValidate(services, options));
        return GatewayHandlerFactory.Create(services, options, (_, logger) => new EmbeddedAppInvoker(app, host, options.QueueLimit, logger));
    }
}
