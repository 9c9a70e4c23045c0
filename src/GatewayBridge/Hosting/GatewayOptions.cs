using System.ComponentModel;

namespace GatewayBridge;

/// <summary>
/// Options for a gateway app mounted with <c>UseGatewayApp</c> or <c>MapGatewayApp</c>.
/// </summary>
public sealed class GatewayOptions
{
    /// <summary>
    /// Keeps request headers whose names contain <c>_</c>. Such names collide with <c>-</c> in <c>HTTP_*</c> keys
    /// and let a client spoof headers a proxy sets (<c>X_Forwarded_For</c> for <c>X-Forwarded-For</c>), so they are dropped.
    /// The default value is <see langword="false"/>.
    /// </summary>
    public bool AllowUnderscoreHeaders { get; set; }

    /// <summary>
    /// How many bytes of a request body are buffered in memory before the rest spills to a temporary file.
    /// The default value is 65536 (64 KiB).
    /// </summary>
    public int MemoryBufferThreshold { get; set; } = 64 * 1024;

    /// <summary>
    /// The largest request body the bridge buffers, in bytes, or <see langword="null"/> to leave the limit to
    /// Kestrel's <c>MaxRequestBodySize</c> (30 MB unless the host changes it), which answers 413.
    /// The default value is <see langword="null"/>.
    /// </summary>
    public long? BufferBodyLimit { get; set; }

    /// <summary>
    /// Wraps the app in <see cref="GatewayValidator"/>, so every call is checked against the gateway interface and a
    /// violation fails the request with a <see cref="GatewayValidationException"/> naming the rule.
    /// <see langword="null"/> turns it on in the Development environment only.
    /// The default value is <see langword="null"/>.
    /// </summary>
    public bool? UseValidator { get; set; }

    /// <summary>
    /// How many calls into the app's own code (the app itself, each step of its iterable, its disposal) may run at
    /// once on ASP.NET Core's shared thread pool. Further calls run on the bridge's app threads, so an app that
    /// blocks cannot starve the host's other endpoints, and a fast app rarely leaves the request's thread.
    /// The default value is the processor count.
    /// </summary>
    public int MaxInlineCalls { get; set; } = Environment.ProcessorCount;

    /// <summary>
    /// The most dedicated app threads the bridge starts for app code that does not fit inline; they are started
    /// only when needed. The default value is 64.
    /// </summary>
    public int AppThreads { get; set; } = 64;

    /// <summary>The 0.1 name of <see cref="AppThreads"/>, kept for one release.</summary>
    [Obsolete("Use AppThreads: \"worker\" now means a Python worker process. WorkerThreads is removed in 0.3.")]
    [EditorBrowsable(EditorBrowsableState.Never)]
    public int WorkerThreads { get => AppThreads; set => AppThreads = value; }

    /// <summary>
    /// How many calls may wait for an app thread (or, for a Python app, a Python thread or worker process). When the
    /// queue is full, new requests are answered 503 with Retry-After before their body is read. The default value is 256.
    /// </summary>
    public int QueueLimit { get; set; } = 256;

    // Set by GatewayServer, whose access log reports body bytes; other hosts skip the per-request feature lookup.
    internal bool ReportBytesSent { get; set; }
}
