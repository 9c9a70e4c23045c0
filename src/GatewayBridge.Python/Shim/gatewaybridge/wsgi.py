"""A WSGI request, Python's side (both modes: the host's interpreter and a worker process): the environ dict, the
wsgi.input and wsgi.errors file objects, start_response and exc_info, iterating the app's result and calling its close().

A Server drives a response one step at a time: start() runs the app up to the first body bytes, resume() fetches each
further chunk, close() ends a response the host stopped sending. Each step is a tuple (head, data, kind, extra):

    head   the status and headers as 'status\\0name\\0value...', once, when they become due (start_response refuses a
           NUL in any of them, so the framing cannot be forged)
    data   body bytes for this step (see kind)
    kind   WHOLE, CHUNK, END, FILE or ERROR
    extra  the call to resume (CHUNK); otherwise the traceback of a failed close(), or None

In the host's interpreter, .NET calls the steps (Embedded/PythonCall.cs); in a worker, the worker turns them into
frames (workers/wsgi.py).
"""

import io
import os
import stat
import sys
import threading
import traceback

WHOLE = 0  # data is the whole body; the result is closed
CHUNK = 1  # data is one chunk; resume(extra) for more
END = 2  # the body is over (data is empty); the result is closed
FILE = 3  # data is (fd, offset, count, path or None): a duplicated descriptor the host sends from and closes
ERROR = 4  # data is (type name, message, traceback); the result is closed

SERVER_SOFTWARE = "GatewayBridge"


class Server:
    """Runs WSGI apps for one process. channel takes what a request hands to its server while it runs:
    channel.write(call_id, head, data) for PEP 3333's write() (False once the client is gone), and
    channel.errors_line(line) for each line of wsgi.errors."""

    def __init__(self, channel, multithread, multiprocess):
        self.channel = channel
        self.keys = {
            "wsgi.version": (1, 0),
            "wsgi.multithread": multithread,
            "wsgi.multiprocess": multiprocess,
            "wsgi.run_once": False,
            "wsgi.input_terminated": True,
            "wsgi.file_wrapper": FileWrapper,
            "SERVER_SOFTWARE": SERVER_SOFTWARE,
        }
        # wsgi.errors: one per thread, flushed at the end of each request (each line goes out as it is written, as
        # the request that wrote it; building one per request cost a lock and a stream each time).
        self.local = threading.local()

    def errors(self):
        """This thread's wsgi.errors."""
        writer = getattr(self.local, "errors", None)
        if writer is None:
            writer = self.local.errors = _LineWriter(self.channel.errors_line, "<wsgi.errors>")
        return writer

    def start(self, app, call_id, environ_text, body, body_length, body_path):
        """Runs the app up to its first body bytes (or to its end, for a list)."""
        try:
            call = _Call(self, call_id, environ_text, body, body_length, body_path)
        except BaseException:
            # The request could not even be set up (its spilled body is gone: the client left while it waited).
            return None, _current_error(), ERROR, None
        try:
            result = call.result = app(call.environ, call.start_response)
            if type(result) is list or type(result) is tuple:
                for chunk in result:
                    _check_chunk(chunk)
                return call.due_head(), b"".join(result), WHOLE, call.close()
            if isinstance(result, FileWrapper) and result.fileno is not None:
                return call.send_file(result)
            call.iterator = iter(result)
        except BaseException:
            return call.fail()
        return self.resume(call)

    @staticmethod
    def resume(call):
        """The next non-empty chunk of a lazy body, or its end. A first chunk that is all the Content-Length the app
        declared is the whole body (Flask's and Django's responses are such iterables): the iterable's end is taken
        at once, and the response goes out in one step, as a list's does."""
        try:
            if call.pending is not None:
                chunk, call.pending = call.pending, None
                return None, chunk, CHUNK, call
            for chunk in call.iterator:
                _check_chunk(chunk)
                if chunk:
                    if not call.headers_sent and len(chunk) == call.declared_length():
                        return call.whole(chunk)
                    return call.due_head(), chunk, CHUNK, call
            return call.due_head(), b"", END, call.close()
        except BaseException:
            return call.fail()

    @staticmethod
    def close(call):
        """Ends a response the host stopped sending (the client left, or the host refused the headers)."""
        return call.close()


def _check_chunk(chunk):
    if type(chunk) is not bytes:
        raise TypeError(f"the app's iterable yielded a {type(chunk).__name__}; body chunks must be bytes (PEP 3333)")


class _Call:
    """One request: start_response's state machine and the app's result."""

    __slots__ = ("server", "id", "environ", "input", "errors", "status", "headers", "headers_sent", "result", "iterator",
                 "closed", "pending")

    def __init__(self, server, call_id, environ_text, body, body_length, body_path):
        self.server = server
        self.id = call_id
        items = iter(environ_text.split("\0"))
        environ = self.environ = dict(zip(items, items))
        environ.update(server.keys)
        environ["RAW_URI"] = environ["REQUEST_URI"]
        if body_path is not None:
            self.input = open(body_path, "rb")
        elif body is not None:
            self.input = io.BytesIO(memoryview(body)[:body_length])
        else:
            self.input = io.BytesIO()
        # The call keeps its own references: middleware may replace these in the environ with wrappers.
        environ["wsgi.input"] = self.input
        environ["wsgi.errors"] = self.errors = server.errors()
        self.status = None
        self.headers = None
        self.headers_sent = False
        self.result = None
        self.iterator = None
        self.closed = False
        self.pending = None

    def start_response(self, status, headers, exc_info=None):
        if exc_info is not None:
            try:
                if self.headers_sent:
                    # PEP 3333: once headers are out, the only honest thing left is to fail the response.
                    raise exc_info[1].with_traceback(exc_info[2])
            finally:
                exc_info = None
        elif self.status is not None:
            raise AssertionError("start_response was already called; call it again only with exc_info (PEP 3333)")
        if type(status) is not str:
            raise TypeError(f"the status must be a str, not {type(status).__name__}")
        if "\0" in status:
            raise ValueError(f"the status {status!r} has a NUL character")
        if type(headers) is not list:
            raise TypeError(f"the headers must be a list of (name, value) tuples, not {type(headers).__name__}")
        for header in headers:
            if type(header) is not tuple or len(header) != 2 or type(header[0]) is not str or type(header[1]) is not str:
                raise TypeError(f"each header must be a (name, value) tuple of two str, not {header!r}")
            # The host checks names and values against the response rules; a NUL is refused here because it is
            # what separates them on the way to the host.
            if "\0" in header[0] or "\0" in header[1]:
                raise ValueError(f"the header {header[0]!r} has a NUL character; CR, LF and NUL would inject headers")
        self.status = status
        self.headers = list(headers)
        return self.write

    def write(self, data):
        """PEP 3333's write(): the bytes go to the client before it returns (after the headers, first time)."""
        if type(data) is not bytes:
            raise TypeError(f"write() takes bytes, not {type(data).__name__}")
        if self.closed:
            raise OSError("write() was called after the response ended")
        head = self.due_head()
        if not self.server.channel.write(self.id, head, data):
            raise OSError("the client went away; the response cannot be written")

    def due_head(self):
        if self.headers_sent:
            return None
        if self.status is None:
            raise AssertionError("the app produced a body without calling start_response (PEP 3333)")
        self.headers_sent = True
        parts = [self.status]
        for name, value in self.headers:
            parts.append(name)
            parts.append(value)
        return "\0".join(parts)

    def declared_length(self):
        """The Content-Length the app declared, or None."""
        for name, value in self.headers or ():
            if len(name) == 14 and name.lower() == "content-length":
                return int(value) if value.isdigit() else None
        return None

    def whole(self, chunk):
        """The step for a lazy body whose first chunk is all of it: the iterable's end and close() come first; a chunk
        past the declared length (the app's error) goes out after it, as it would have."""
        for more in self.iterator:
            _check_chunk(more)
            if more:
                self.pending = more
                return self.due_head(), chunk, CHUNK, self
        return self.due_head(), chunk, WHOLE, self.close()

    def send_file(self, wrapper):
        head = self.due_head()
        fd = os.dup(wrapper.fileno)
        try:
            # tell() is the file object's own position, which read-ahead buffering keeps apart from the descriptor's.
            offset = wrapper.filelike.tell() if hasattr(wrapper.filelike, "tell") else os.lseek(fd, 0, os.SEEK_CUR)
            count = max(0, os.fstat(fd).st_size - offset)
        except BaseException:
            os.close(fd)
            raise
        # The path is taken after close(): a file that close() deletes (a NamedTemporaryFile) then goes by its
        # descriptor, which this duplicate keeps open, instead of by a name that is gone when the host opens it.
        failure = self.close()
        return head, (fd, offset, count, _path_of(wrapper.filelike, fd)), FILE, failure

    def fail(self):
        return None, _current_error(), ERROR, self.close()

    def close(self):
        """close() exactly once; returns the traceback of a close() that failed, or None."""
        if self.closed:
            return None
        self.closed = True
        failure = None
        close = getattr(self.result, "close", None)
        if close is not None:
            try:
                close()
            except BaseException:
                failure = traceback.format_exc()
        self.errors.flush()
        self.input.close()
        return failure


def _current_error():
    """The exception being handled: its type's name, its message and its traceback."""
    kind, value, tb = sys.exc_info()
    try:
        return kind.__name__, str(value), "".join(traceback.format_exception(kind, value, tb))
    except BaseException:
        # An exception whose str() itself fails still gets reported, by its type.
        return kind.__name__, "", "".join(traceback.format_exception_only(kind, None))


def _path_of(filelike, fd):
    """The file's path, if its name still names this very file (not a replacement, nor nothing after an unlink)."""
    name = getattr(filelike, "name", None)
    if type(name) is not str:
        return None
    try:
        path = os.path.abspath(name)
        return path if os.path.samestat(os.stat(path), os.fstat(fd)) else None
    except OSError:
        return None


class FileWrapper:
    """wsgi.file_wrapper: a real file goes out through the host's send-file path; anything else is iterated."""

    def __init__(self, filelike, blksize=8192):
        self.filelike = filelike
        self.blksize = blksize
        self.fileno = None
        if hasattr(filelike, "close"):
            self.close = filelike.close
        try:
            fd = filelike.fileno()
            if stat.S_ISREG(os.fstat(fd).st_mode):
                if hasattr(filelike, "flush"):
                    filelike.flush()
                self.fileno = fd
        except (AttributeError, OSError, ValueError):
            pass

    def __iter__(self):
        return self

    def __next__(self):
        data = self.filelike.read(self.blksize)
        if data:
            return data
        raise StopIteration


class _LineWriter(io.TextIOBase):
    """A text stream that hands each complete line to the host (print(), sys.stderr, wsgi.errors)."""

    def __init__(self, emit, name):
        super().__init__()
        self._emit = emit
        self._name = name
        self._buffer = []
        self._lock = threading.Lock()

    @property
    def name(self):
        return self._name

    @property
    def encoding(self):
        return "utf-8"

    def writable(self):
        return True

    def write(self, s):
        if type(s) is not str:
            raise TypeError(f"write() argument must be str, not {type(s).__name__}")
        with self._lock:
            lines = s.split("\n")
            for line in lines[:-1]:
                self._buffer.append(line)
                self._emit("".join(self._buffer).rstrip("\r"))
                self._buffer.clear()
            if lines[-1]:
                self._buffer.append(lines[-1])
        return len(s)

    def flush(self):
        with self._lock:
            if self._buffer:
                self._emit("".join(self._buffer))
                self._buffer.clear()

    def close(self):
        # The host owns these streams: an app closing one must not break the next request.
        self.flush()
