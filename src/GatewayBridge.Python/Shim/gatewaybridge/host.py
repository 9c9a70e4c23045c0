"""The host's own interpreter (loaded by GatewayBridge.Python when apps run in-process): it adopts the chosen python3's
sys.path, hands logging records and sys.stdout/sys.stderr to the host's ILogger, and runs WSGI apps through a
wsgi.Server whose write() and wsgi.errors lines go to the host too.
"""

import io
import os
import site
import sys
import threading

from gatewaybridge import logs, wsgi


def adopt(path, executable, prefix, exec_prefix):
    """Makes the embedded interpreter see what the chosen python3 sees: its sys.path (a virtual environment's
    site-packages among it, with their .pth files processed as site.py would), its prefixes, and itself as
    sys.executable for apps that start Python processes. The shim's own folder stays first."""
    shim = sys.path[0]
    embedded = set(sys.path)
    sys.path[:] = [shim, *(p for p in path if p != shim)]
    for folder in path:
        if folder not in embedded and os.path.basename(folder) in ("site-packages", "dist-packages"):
            site.addsitedir(folder)
    sys.executable, sys.prefix, sys.exec_prefix = executable, prefix, exec_prefix
    sys.argv = [""]


def install(host, root_level):
    """In the host's interpreter, once per process: logging records, sys.stdout and sys.stderr reach the host's
    ILogger, and sys.stdin reads as an empty file. Returns the wsgi.Server that runs WSGI apps here, and the read ends of
    the pipes behind sys.stdout's and sys.stderr's descriptors, for the host to log what is written to those directly (a
    subprocess, C code)."""
    logs.install(host.Log, root_level)
    sys.stdin = open(os.devnull, encoding="utf-8")
    out_read, out_write = os.pipe()
    err_read, err_write = os.pipe()
    sys.stdout = _host_stream(host.Stdout, out_write, "<stdout>")
    sys.stderr = _host_stream(host.Stderr, err_write, "<stderr>")
    return wsgi.Server(_Channel(host), multithread=True, multiprocess=False), out_read, err_read


def add_path(folders):
    """Puts the host's PythonPath folders on sys.path, each once, right after the shim's own folder: the shim's modules
    are found before any of the app's."""
    for folder in reversed(folders):
        if folder not in sys.path:
            sys.path.insert(1, folder)


class _Channel:
    """What a WSGI request hands to the host while it runs, as wsgi.Server asks for it."""

    __slots__ = ("write", "errors_line")

    def __init__(self, host):
        self.write = host.Write
        self.errors_line = host.ErrorsLine


def _host_stream(emit, fd, name):
    """sys.stdout or sys.stderr as libraries expect them (Mercurial, click and rich touch them at import): a real
    io.TextIOWrapper with .buffer, .encoding and .fileno(), line-buffered, whose lines reach the host's logging."""
    return io.TextIOWrapper(io.BufferedWriter(_HostRaw(emit, fd, name)), encoding="utf-8", errors="backslashreplace",
                            line_buffering=True)


class _HostRaw(io.RawIOBase):
    """The bytes under a host stream: each complete line goes to the host as the writing thread's host logs it.
    fileno() is a pipe the host reads too, for code that writes to the descriptor rather than to the object."""

    def __init__(self, emit, fd, name):
        super().__init__()
        self._emit = emit
        self._fd = fd
        self._name = name
        self._partial = b""
        self._lock = threading.Lock()

    @property
    def name(self):
        return self._name

    def writable(self):
        return True

    def isatty(self):
        return False

    def fileno(self):
        return self._fd

    def write(self, data):
        with self._lock:
            lines = (self._partial + bytes(data)).split(b"\n")
            self._partial = lines.pop()
            for line in lines:
                self._emit(line.rstrip(b"\r").decode("utf-8", "backslashreplace"))
        return len(data)

    def close(self):
        # The host owns these streams: an app closing one must not break the next request.
        with self._lock:
            if self._partial:
                self._emit(self._partial.decode("utf-8", "backslashreplace"))
                self._partial = b""
