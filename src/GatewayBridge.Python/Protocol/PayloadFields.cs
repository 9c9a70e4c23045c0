namespace GatewayBridge.Python;

/// <summary>How a Request frame carries the body.</summary>
internal enum RequestBodyKind : byte
{
    None = 0,
    Inline = 1,
    File = 2,
}

/// <summary>What a Log frame carries.</summary>
internal enum LogKind : byte
{
    /// <summary>A logging record: its logger's name, message and detail (a traceback).</summary>
    Record = 0,

    /// <summary>A line of <c>wsgi.errors</c> or stderr, logged at Warning.</summary>
    Line = 1,
}

/// <summary>The scope fields of AsgiHttp and WsConnect, in their order.</summary>
internal enum ScopeField
{
    Method,
    Scheme,
    HttpVersion,
    RootPath,
    RawPath,
    Path,
    QueryString,
    ClientHost,
    ClientPort,
    ServerHost,
    ServerPort,
    Subprotocols,
}
