using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.Logging;
using Python.Runtime;

namespace GatewayBridge.Python;

/// <summary>
/// Runs a Python WSGI app for the bridge: the request (environ and body) goes to one of the host's Python threads,
/// and the steps of the response come back to be sent through the same writer .NET apps use.
/// </summary>
internal sealed class EmbeddedAppInvoker : IGatewayAppInvoker
{
    private readonly PyObject _app;
    private readonly string _appSpec;
    private readonly EmbeddedPythonHost _host;
    private readonly int _queueLimit;
    private readonly ILogger _logger;
    private PythonThreads? _threads;

    public EmbeddedAppInvoker(PyObject app, string appSpec, EmbeddedPythonHost host, int queueLimit, ILogger logger)
    {
        _app = app;
        _appSpec = appSpec;
        _host = host;
        _queueLimit = queueLimit;
        _logger = logger;
    }

    // The host starts its threads with itself (or with the first request, in a host that runs no hosted services).
    private PythonThreads Threads => _threads ??= _host.Threads;

    public bool HasRoom => Threads.HasRoomWithin(_queueLimit);

    // The app object and the threads belong to the host, which outlives the handler.
    public void Dispose()
    {
    }

    public async Task InvokeAsync(EnvironDictionary environ, GatewayResponse response, CancellationToken aborted)
    {
        var path = environ.Context.Request.Path;

        // :: Step 1: Hand the request to a Python thread (the environ as native strings, the body as bytes or a file)
        var body = EmbeddedRequestBody.From(environ.Input);
        var request = PythonTracing.RequestSpan(environ.Context);
        var call = new PythonCall(_app, _appSpec, NativeEnviron.Build(environ), body, _logger, path, request, PythonTracing.Start("python.queue", request, _appSpec), aborted);
        try
        {
            Threads.Enqueue(call);
        }
        catch
        {
            body.Release();
            throw;
        }

        try
        {
            // :: Step 2: Send each step of the response as the Python thread produces it
            while (await call.Parts.WaitToReadAsync(aborted))
            {
                while (call.Parts.TryRead(out var part))
                {
                    try
                    {
                        if (await WsgiResponseSender.SendAsync(part, response, _logger, path))
                        {
                            return;
                        }
                    }
                    finally
                    {
                        part.Release();
                    }
                }
            }

            // Reached only when the Python thread gave up without an answer: an interrupt as the host stops.
            throw new InvalidOperationException("The Python thread stopped before the app's response was complete (the host is stopping).");
        }
        finally
        {
            // :: Step 3: If the response ended early, the Python thread closes the app's iterable at its next step
            call.Stop();
        }
    }
}
