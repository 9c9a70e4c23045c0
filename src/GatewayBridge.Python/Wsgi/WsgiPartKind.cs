namespace GatewayBridge.Python;

/// <summary>
/// What a part of a WSGI response holds. The first five are the steps of <c>gatewaybridge/wsgi.py</c> (in the host's
/// interpreter .NET takes them as they are); the rest come only from a worker process.
/// </summary>
internal enum WsgiPartKind
{
    /// <summary>The whole body, known at once (the app returned a list).</summary>
    Whole = 0,

    /// <summary>One chunk of a streamed body; more may follow.</summary>
    Chunk = 1,

    /// <summary>The end of a streamed body.</summary>
    End = 2,

    /// <summary>A real file to send with Kestrel's send-file path.</summary>
    File = 3,

    /// <summary>The app raised an exception.</summary>
    Error = 4,

    /// <summary>The first part of a body whose length is known (a list), too long for one frame; chunks follow.</summary>
    Length = 5,

    /// <summary>The app's close() failed (logged; the response goes on).</summary>
    CloseFailed = 6,

    /// <summary>The worker process failed the request: it died, timed out or broke the protocol.</summary>
    TransportFailed = 7,
}
