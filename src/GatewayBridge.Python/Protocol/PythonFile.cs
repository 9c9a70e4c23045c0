using Microsoft.Win32.SafeHandles;

namespace GatewayBridge.Python;

/// <summary>
/// A file a Python app returned through <c>wsgi.file_wrapper</c>: the shim's duplicate of its descriptor (the request
/// owns and closes it), and its path when that still names the same file.
/// </summary>
internal sealed record PythonFile(SafeFileHandle Descriptor, string? Path, long Offset, long Count);
