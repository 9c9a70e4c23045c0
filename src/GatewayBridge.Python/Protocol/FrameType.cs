namespace GatewayBridge.Python;

/// <summary>
/// The frames of the worker protocol (docs/worker-protocol.md), between the host and a Python server: a worker process,
/// or the ASGI loop in the host's own interpreter. Python's side is <c>gatewaybridge/protocol.py</c>.
/// </summary>
internal enum FrameType : byte
{
    // Python server to host.

    /// <summary>A worker's first frame: the protocol version, its secret, the path of its protocol module.</summary>
    Hello = 1,

    /// <summary>The app is loaded (and its ASGI lifespan started): JSON with the version, pid, Python and module path.</summary>
    Ready = 2,

    /// <summary>The app could not be loaded, or its lifespan startup failed: the traceback or message.</summary>
    Failed = 3,

    /// <summary>A WSGI response's head and body bytes (<see cref="FrameFlags"/> Head, Length, End, Whole).</summary>
    Response = 4,

    /// <summary>A WSGI response that is a file: offset, count and path; the call's last frame.</summary>
    File = 5,

    /// <summary>The app raised: type, message and traceback. The last frame of a WSGI call; an ASGI call ends with DoneApp.</summary>
    Error = 6,

    /// <summary>The WSGI iterable's <c>close()</c> raised: its traceback.</summary>
    CloseFailed = 7,

    /// <summary>A logging record, or a line of <c>wsgi.errors</c> or stderr.</summary>
    Log = 8,

    /// <summary>The worker's memory passed the limit: replace it.</summary>
    Retire = 9,

    /// <summary>The worker got SIGTERM: send it nothing new, and Stop it once what it holds is answered.</summary>
    Goodbye = 10,

    /// <summary>Request bytes the ASGI app has read: the host may send as many more.</summary>
    Taken = 11,

    /// <summary>The ASGI app returned: the call's last frame.</summary>
    DoneApp = 12,

    /// <summary>A template forked the worker the host asked for: JSON with its secret and pid.</summary>
    Forked = 13,

    /// <summary>A worker a template forked has ended: JSON with its pid and exit status (128 + the signal, as .NET's).</summary>
    Exited = 14,

    /// <summary>A WSGI worker's thread took a traced request (Request flag Traced): u64, when, in CLOCK_MONOTONIC nanoseconds.</summary>
    Started = 15,

    // Host to Python server.

    /// <summary>The answer to Hello: JSON with the host's proof and what to load and how.</summary>
    Config = 20,

    /// <summary>A WSGI request (opens a call): the environ and the body, or the path of the file it spilled to.</summary>
    Request = 21,

    /// <summary>Response bytes the host has sent on to the client: the server may send as many more.</summary>
    Credit = 22,

    /// <summary>The WSGI request ended early (the client left, a timeout): the app is closed at its next step.</summary>
    Cancel = 23,

    /// <summary>The host has opened the descriptor of a File answer: the worker may close its copy.</summary>
    Done = 24,

    /// <summary>Finish what was received, then exit (a worker) or return (the host's ASGI loop).</summary>
    Stop = 25,

    /// <summary>To a template: fork a worker (JSON with its secret); its stdout and stderr go with the frame (<c>SCM_RIGHTS</c>).</summary>
    Fork = 26,

    /// <summary>An ASGI HTTP request (opens a call): the scope's fields (flag Empty: no body follows).</summary>
    AsgiHttp = 30,

    /// <summary>A piece of an ASGI request's body (flag More: more follows).</summary>
    AsgiBody = 31,

    /// <summary>The ASGI client went: <c>http.disconnect</c>.</summary>
    AsgiDisconnect = 32,

    /// <summary>An ASGI WebSocket (opens a call): the scope's fields.</summary>
    WsConnect = 33,

    /// <summary>A WebSocket message from the client (flag Text).</summary>
    WsMessage = 34,

    /// <summary>The WebSocket client closed or went: the close code.</summary>
    WsDisconnect = 35,

    // Python server to host, ASGI.

    /// <summary><c>http.response.start</c>: the status and headers.</summary>
    AsgiStart = 40,

    /// <summary><c>http.response.body</c> (flag More).</summary>
    AsgiResponseBody = 41,

    /// <summary><c>websocket.accept</c>: the subprotocol and headers.</summary>
    WsAccept = 42,

    /// <summary><c>websocket.send</c> (flag Text).</summary>
    WsSend = 43,

    /// <summary><c>websocket.close</c>: the code and reason.</summary>
    WsClose = 44,
}

/// <summary>The flags a frame's type gives meaning to.</summary>
internal static class FrameFlags
{
    /// <summary>Response, File: the status line and headers come first.</summary>
    public const byte Head = 1;

    /// <summary>Response: a list body split over frames; its whole length (u64) comes next.</summary>
    public const byte Length = 2;

    /// <summary>Response: the response's last frame.</summary>
    public const byte End = 4;

    /// <summary>Response: the whole body is in this frame.</summary>
    public const byte Whole = 8;

    /// <summary>File: the path is the worker's /proc/&lt;pid&gt;/fd/&lt;n&gt;, held until Done.</summary>
    public const byte Descriptor = 16;

    /// <summary>AsgiBody, AsgiResponseBody: more body follows.</summary>
    public const byte More = 1;

    /// <summary>WsMessage, WsSend: a text message.</summary>
    public const byte Text = 1;

    /// <summary>AsgiHttp: the request has no body.</summary>
    public const byte Empty = 2;

    /// <summary>Request: the host traces it, and asks for Started when a thread takes it.</summary>
    public const byte Traced = 1;
}

/// <summary>The worker protocol's version and limits, the same on Python's side (tested).</summary>
internal static class WorkerProtocol
{
    /// <summary>Hello and Ready carry it; a server of another version cannot serve this host.</summary>
    public const int Version = 2;

    /// <summary>Payload length u32, type u8, flags u8, call id u32; little-endian.</summary>
    public const int HeaderSize = 10;

    /// <summary>The largest payload either side sends or takes: a longer frame is a protocol error.</summary>
    public const int MaxPayload = 16 * 1024 * 1024;

    /// <summary>Response bytes a call may have on their way before the host grants more credit; request bytes likewise.</summary>
    public const int Window = 256 * 1024;

    /// <summary>The largest body piece the Python side puts in one frame.</summary>
    public const int Fragment = 64 * 1024;

    /// <summary>Whether a frame of <paramref name="type"/> is one a Python server sends.</summary>
    public static bool IsFromServer(FrameType type) => type is >= FrameType.Hello and <= FrameType.Started or >= FrameType.AsgiStart and <= FrameType.WsClose;

    /// <summary>Whether a frame of <paramref name="type"/> is one the host sends.</summary>
    public static bool IsFromHost(FrameType type) => type is >= FrameType.Config and <= FrameType.Fork or >= FrameType.AsgiHttp and <= FrameType.WsDisconnect;

    /// <summary>Whether a frame of <paramref name="type"/> belongs to a call (its id names one), rather than to the connection.</summary>
    public static bool IsCallFrame(FrameType type) => type is not (FrameType.Hello or FrameType.Ready or FrameType.Failed or FrameType.Log
        or FrameType.Retire or FrameType.Goodbye or FrameType.Config or FrameType.Stop or FrameType.Fork or FrameType.Forked or FrameType.Exited);
}
