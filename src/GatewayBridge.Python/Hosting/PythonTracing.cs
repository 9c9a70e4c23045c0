using System.Diagnostics;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Http.Features;

namespace GatewayBridge.Python;

/// <summary>
/// The spans of a Python call, on the <c>GatewayBridge.Python</c> <see cref="ActivitySource"/>: <c>python.queue</c>
/// (waiting for a worker or a Python thread) and <c>python.app</c> (in the app), children of the request's span. When
/// the host traces the request, the app gets the app span's <c>traceparent</c> (and <c>tracestate</c>), as a tracing
/// proxy in front of gunicorn would hand on its own, so an instrumented app's spans become children of the host's.
/// Neither span moves the request's current activity: they may start and stop on whichever thread opens the call.
/// </summary>
internal static class PythonTracing
{
    /// <summary>The <see cref="ActivitySource"/>'s name, for an OpenTelemetry tracer's <c>AddSource</c>.</summary>
    public const string SourceName = "GatewayBridge.Python";

    private static readonly ActivitySource Source = new(SourceName, typeof(PythonTracing).Assembly.GetName().Version?.ToString());

    /// <summary>The request's span, when the host traces its requests.</summary>
    public static Activity? RequestSpan(HttpContext context) => context.Features.Get<IHttpActivityFeature>()?.Activity;

    /// <summary>Starts a span named <paramref name="name"/> as a child of <paramref name="request"/>, leaving the current activity as it was.</summary>
    public static Activity? Start(string name, Activity? request, string appSpec)
    {
        if (!Source.HasListeners())
        {
            return null;
        }

        var previous = Activity.Current;
        var span = Source.StartActivity(name, ActivityKind.Internal, request?.Context ?? default);
        Activity.Current = previous;
        span?.SetTag("python.app", appSpec);
        return span;
    }

    /// <summary>Records the worker that took the call.</summary>
    public static void Worker(Activity? span, int pid) => span?.SetTag("python.worker.pid", pid);

    /// <summary>
    /// What the app receives for <paramref name="span"/>: its <c>traceparent</c> and the request's <c>tracestate</c>, or
    /// null when the request has no span (then the client's headers reach the app unchanged).
    /// </summary>
    public static (string Parent, string? State)? Headers(Activity? span, Activity? request) =>
        span is null || request is null
            ? null
            : ($"00-{span.TraceId}-{span.SpanId}-{(span.Recorded ? "01" : "00")}", span.TraceStateString ?? request.TraceStateString);
}
