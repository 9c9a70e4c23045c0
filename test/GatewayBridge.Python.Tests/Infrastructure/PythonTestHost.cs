using Microsoft.AspNetCore.Builder;
using Microsoft.Extensions.DependencyInjection;
using Python.Runtime;

namespace GatewayBridge.Python.Tests.Infrastructure;

/// <summary>Starts a <see cref="TestHost"/> with Debian's python3 embedded and the test apps folder on sys.path.</summary>
public static class PythonTestHost
{
    /// <summary>Debian's python3: the one with python3-flask, python3-django and python3-pyramid.</summary>
    public const string Python = "/usr/bin/python3";

    public static string AppsFolder { get; } = Path.Combine(AppContext.BaseDirectory, "apps");

    /// <summary>Serves <paramref name="appSpec"/> as the whole pipeline, checked by CPython's wsgiref.validate unless told not to.</summary>
    public static Task<TestHost> StartAsync(string appSpec, bool kestrel = false, bool validate = true, Action<GatewayOptions>? options = null, Action<PythonOptions>? python = null) =>
        StartAsync(app => app.UsePythonWsgiApp(appSpec, o =>
        {
            o.UseValidator = validate;
            options?.Invoke(o);
        }), kestrel, python);

    public static Task<TestHost> StartAsync(Action<WebApplication> pipeline, bool kestrel = false, Action<PythonOptions>? python = null, Action<WebApplicationBuilder>? configure = null) =>
        TestHost.StartAsync(pipeline, kestrel, builder =>
        {
            builder.Services.AddPython(o =>
            {
                o.Python = Python;
                o.PythonPath.Add(AppsFolder);
                python?.Invoke(o);
            });
            configure?.Invoke(builder);
        });

    /// <summary>Runs Python code in the process's interpreter, with the test apps importable (to set an app's event, say).</summary>
    public static void RunPython(string code)
    {
        using (Py.GIL())
        {
            PythonEngine.Exec(code);
        }
    }
}
