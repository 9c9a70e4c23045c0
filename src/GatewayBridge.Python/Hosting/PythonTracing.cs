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

    /// <summary>
    /// Ends a worker call's spans: the wait ends, and the app's time begins, when a thread of the worker took the request
    /// (<paramref name="startedAt"/>, the worker's CLOCK_MONOTONIC nanoseconds, which are the host's too), or when it was
    /// <paramref name="sent"/> if the worker never said. Both stop here, on the request's own flow: stopped where the
    /// worker's frame is read, they would move that reader's current activity.
    /// </summary>
    public static void EndWorkerCall(Activity? queued, Activity? app, DateTime sent, long startedAt)
    {
        if (queued is not null)
        {
            var began = sent;
            if (startedAt > 0)
            {
                var now = DateTime.UtcNow;
                var ago = TimeSpan.FromTicks((MonotonicNanoseconds() - startedAt) / 100);
                began = ago < TimeSpan.Zero ? now : now - ago < sent ? sent : now - ago;
            }

            queued.SetEndTime(began);
            app?.SetStartTime(began);
            queued.Stop();
        }

        app?.Stop();
    }

    private static long MonotonicNanoseconds() => (long)(Stopwatch.GetTimestamp() * (1_000_000_000.0 / Stopwatch.Frequency));

    /// <summary>Records the worker that took the call.</summary>
    public static void Worker(Activity? span, int pid) => span?.SetTag("python.worker.pid", pid);

    /// <summary>
    /// What the app receives: the <c>traceparent</c> of the app's <paramref name="span"/>, or of the request's own span
    /// when it is recorded but nobody listens to this source (a tracer set up for ASP.NET Core alone), and the request's
    /// <c>tracestate</c>; null when the host does not trace the request (then the client's headers reach the app
    /// unchanged, as they reach a gunicorn app).
    /// </summary>
    public static (string Parent, string? State)? Headers(Activity? span, Activity? request)
    {
        var parent = span ?? (request is { Recorded: true } ? request : null);
        return parent is null || request is null
            ? null
            : ($"00-{parent.TraceId}-{parent.SpanId}-{(parent.Recorded ? "01" : "00")}", parent.TraceStateString ?? request.TraceStateString);
    }
}
