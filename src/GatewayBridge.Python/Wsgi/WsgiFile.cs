using Microsoft.Win32.SafeHandles;

namespace GatewayBridge.Python;

/// <summary>
/// A file a Python app returned through <c>wsgi.file_wrapper</c>: a path that names it (its own, or a worker's
/// <c>/proc/pid/fd/n</c>), and in the host's interpreter the shim's duplicate of its descriptor (the request owns and
/// closes it), for a file no path names any more.
/// </summary>
internal sealed record WsgiFile(SafeFileHandle? Descriptor, string? Path, long Offset, long Count);
