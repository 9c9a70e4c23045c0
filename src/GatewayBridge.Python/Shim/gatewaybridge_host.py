"""How the Python side of GatewayBridge meets its host, in the host's own interpreter (loaded by GatewayBridge.Python;
apps never import it): the embedded interpreter adopts the chosen python3's sys.path, logging records and
sys.stdout/sys.stderr reach the host's ILogger, and apps are loaded from gunicorn's specs. A worker process
uses load_app, validated and install_logging too.
"""

import ast
import importlib
import inspect
import io
import logging
import os
import sys
import threading
import traceback

import gatewaybridge_wsgi as wsgi

def adopt(path, executable, prefix, exec_prefix):
    """Makes the embedded interpreter see what the chosen python3 sees: its sys.path (a virtual environment's
    site-packages among it, with their .pth files processed as site.py would), its prefixes, and itself as
    sys.executable for apps that start Python processes."""
    import site

    embedded = set(sys.path)
    sys.path[:] = list(path)
    for folder in path:
        if folder not in embedded and os.path.basename(folder) in ("site-packages", "dist-packages"):
            site.addsitedir(folder)
    sys.executable, sys.prefix, sys.exec_prefix = executable, prefix, exec_prefix
    sys.argv = [""]


def install(host, root_level):
    """In the host's interpreter, once per process: logging records, sys.stdout and sys.stderr reach the host's
    ILogger, and sys.stdin reads as an empty file. Returns the read ends of the pipes behind sys.stdout's and
    sys.stderr's descriptors, for the host to log what is written to those directly (a subprocess, C code)."""
    wsgi._log, wsgi._errors_line, wsgi._write = host.Log, host.ErrorsLine, host.Write
    install_logging(root_level)
    sys.stdin = open(os.devnull, encoding="utf-8")
    out_read, out_write = os.pipe()
    err_read, err_write = os.pipe()
    sys.stdout = _host_stream(host.Stdout, out_write, "<stdout>")
    sys.stderr = _host_stream(host.Stderr, err_write, "<stderr>")
    return out_read, err_read


def install_logging(root_level):
    """Hands every logging record to the host (through _log), at the lowest level the host's logging lets through."""
    root = logging.getLogger()
    root.addHandler(_HostLogHandler())
    if root.level == logging.WARNING:
        # Python's default drops INFO; the host's logging configuration decides instead.
        root.setLevel(root_level)
    logging.captureWarnings(True)


def prepend_path(folders):
    """Puts the host's PythonPath folders first on sys.path, each once."""
    for folder in reversed(folders):
        if folder not in sys.path:
            sys.path.insert(0, folder)


def load_app(spec):
    """gunicorn's app spec: 'module:name', 'module:factory()' with literal arguments, or 'module'."""
    module_name, _, expression = spec.partition(":")
    module = importlib.import_module(module_name)
    try:
        tree = ast.parse(expression or "application", mode="eval").body
    except SyntaxError:
        raise ValueError(f"'{expression}' is not a name or a call of one") from None
    if isinstance(tree, ast.Name):
        app = _attribute(module, tree.id)
    elif isinstance(tree, ast.Call) and isinstance(tree.func, ast.Name):
        try:
            args = [ast.literal_eval(a) for a in tree.args]
            kwargs = {k.arg: ast.literal_eval(k.value) for k in tree.keywords}
        except ValueError:
            raise ValueError(f"the arguments of '{expression}' must be literals, as gunicorn requires") from None
        app = _attribute(module, tree.func.id)(*args, **kwargs)
    else:
        raise ValueError(f"'{expression}' is neither a name nor a call of one (module:name or module:factory())")
    if not callable(app):
        raise TypeError(f"{spec} is a {type(app).__name__}, not a callable app")
    return app


def interface_of(app):
    """'asgi' for a coroutine function, or an object whose __call__ is one (Starlette, FastAPI, Django's
    ASGIHandler); 'wsgi' for any other callable."""
    call = app if inspect.isfunction(app) or inspect.ismethod(app) else getattr(type(app), "__call__", app)
    return "asgi" if inspect.iscoroutinefunction(call) else "wsgi"


def _attribute(module, name):
    try:
        return getattr(module, name)
    except AttributeError:
        raise AttributeError(f"module '{module.__name__}' has no attribute '{name}'") from None


def validated(app):
    """The app wrapped in CPython's own conformance checker, brought up to PEP 3333 on wsgi.input (below)."""
    from wsgiref import validate

    if not issubclass(validate.InputWrapper, _Pep3333Input):
        validate.InputWrapper = type("InputWrapper", (_Pep3333Input, validate.InputWrapper), {})
    return validate.validator(app)


class _Pep3333Input:
    """wsgiref.validate follows PEP 333 and refuses read() without a size. PEP 3333 asks servers to allow it ("return
    the entire remainder of the client's input stream"), and Werkzeug relies on it, so the checker allows it too."""

    def read(self, *args):
        if args:
            return super().read(*args)
        data = self.input.read()
        if type(data) is not bytes:
            raise AssertionError(f"wsgi.input.read() returned a {type(data).__name__}, not bytes")
        return data


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


class _HostLogHandler(logging.Handler):
    """Hands every logging record to the host's ILogger, with the logger's name as the category."""

    def emit(self, record):
        try:
            detail = None
            if record.exc_info:
                detail = "".join(traceback.format_exception(*record.exc_info))
            elif record.exc_text:
                detail = record.exc_text
            if record.stack_info:
                detail = (detail or "") + record.stack_info
            wsgi._log(record.name, record.levelno, record.getMessage(), detail)
        except RecursionError:
            raise
        except Exception:
            self.handleError(record)
