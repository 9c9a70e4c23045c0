"""WSGI apps for the worker-process tests: each misbehaves the way production apps do (crash, hang, leak, fork,
corrupt the transport) or reports something only a worker process has. State lives in the worker process, so a
test with one worker reads it back with a second request; what must outlive a worker goes to a file the test names.
"""
import atexit
import gc
import json
import os
import signal
import struct
import sys
import threading
import time
import urllib.parse

TEXT = [("Content-Type", "text/plain")]
IMPORTED_AT = time.time()
MARKER = os.environ.get("GATEWAYBRIDGE_TEST_MARKER_FILE")
MARKER_AT_IMPORT = open(MARKER).read() if MARKER and os.path.exists(MARKER) else ""
_hoard = []
_active = 0
_max_active = 0
_lock = threading.Lock()
_closes = {}


def _query(environ):
    return dict(urllib.parse.parse_qsl(environ["QUERY_STRING"]))


def _text(start_response, text, status="200 OK"):
    start_response(status, TEXT)
    return [str(text).encode()]


def router(environ, start_response):
    """/name/rest goes to the function name, with the rest as PATH_INFO."""
    name, _, rest = environ["PATH_INFO"][1:].partition("/")
    environ["PATH_INFO"] = "/" + rest if rest else ""
    return globals()[name](environ, start_response)


def pid(environ, start_response):
    return _text(start_response, os.getpid())


def marker(environ, start_response):
    """What the marker file said when this worker imported the app: a reload shows the new code's view."""
    return _text(start_response, MARKER_AT_IMPORT)


def flags(environ, start_response):
    return _text(start_response, f"{environ['wsgi.multiprocess']} {environ['wsgi.multithread']}")


def crash(environ, start_response):
    """Dies as a segfaulting C extension would: no Python cleanup, no answer."""
    os.kill(os.getpid(), signal.SIGKILL)
    time.sleep(10)
    return _text(start_response, "not reached")


def exit_now(environ, start_response):
    os._exit(7)


def stuck_in_app_code(environ, start_response):
    """Never returns, holding the GIL in a busy loop (no sleep to interrupt)."""
    n = 0
    while True:
        n += 1


def sleepy(environ, start_response):
    time.sleep(float(_query(environ).get("seconds", "0.2")))
    return _text(start_response, os.getpid())


def grow(environ, start_response):
    """Keeps `mb` more megabytes for good, touched so that they are resident."""
    _hoard.append(b"x" * (int(_query(environ)["mb"]) * 1024 * 1024))
    return _text(start_response, os.getpid())


def one_at_a_time(environ, start_response):
    """Records how many requests were inside it at once in this process: a thread-unsafe app needs 1."""
    global _active, _max_active
    with _lock:
        _active += 1
        _max_active = max(_max_active, _active)
    time.sleep(0.05)
    with _lock:
        _active -= 1
    return _text(start_response, os.getpid())


def max_active(environ, start_response):
    return _text(start_response, _max_active)


def wait_for_file(environ, start_response):
    """Blocks until the file the test names exists (the test's way to hold a request in a worker), then answers."""
    path = _query(environ)["path"]
    for _ in range(2000):
        if os.path.exists(path):
            break
        time.sleep(0.01)
    return _text(start_response, f"released {os.getpid()}")


def register_atexit(environ, start_response):
    path = _query(environ)["path"]
    atexit.register(lambda: open(path, "w").write(f"atexit ran in {os.getpid()}"))
    return _text(start_response, os.getpid())


def fork(environ, start_response):
    """os.fork() in a worker: the child writes the file and exits; the parent answers."""
    path = _query(environ)["path"]
    child = os.fork()
    if child == 0:
        with open(path, "w") as f:
            f.write(f"child {os.getpid()} of {os.getppid()}")
        os._exit(0)
    _, status = os.waitpid(child, 0)
    return _text(start_response, f"forked {child} status {status}")


def fork_and_return(environ, start_response):
    """os.fork() in a worker where the child returns from the app as the parent does: the shim must end the child
    after this request, so that it never serves the parent's next one."""
    path = _query(environ)["path"]
    parent = os.getpid()
    child = os.fork()
    if child == 0:
        with open(path, "w") as f:
            f.write(f"child {os.getpid()} of {parent}")
        return _text(start_response, "from the child")
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        done, status = os.waitpid(child, os.WNOHANG)
        if done:
            return _text(start_response, f"forked {child} status {status}")
        time.sleep(0.01)
    return _text(start_response, f"forked {child} still running")


def _connection():
    return next(o for o in gc.get_objects() if type(o).__name__ == "Connection" and hasattr(o, "sock"))


def garbage(environ, start_response):
    """Writes bytes that are no frame into the worker's own connection to the host."""
    sock = _connection().sock
    sock.sendall(b"\xff" * 64)
    time.sleep(5)
    return _text(start_response, "not reached")


def _frame(kind, flags, call_id, payload=b"", length=None):
    return struct.pack("<IBBI", len(payload) if length is None else length, kind, flags, call_id) + payload


def unknown_id(environ, start_response):
    """Writes a well-formed RESPONSE frame for a call the host never opened."""
    _connection().sock.sendall(_frame(4, 4, 2 ** 31))
    time.sleep(5)
    return _text(start_response, "not reached")


def oversized_frame(environ, start_response):
    """Writes a header announcing a frame of more than the 16 MiB the protocol allows."""
    _connection().sock.sendall(_frame(4, 0, 1, length=16 * 1024 * 1024 + 1))
    time.sleep(5)
    return _text(start_response, "not reached")


def late_frame(environ, start_response):
    """Writes an END frame for the request this worker answered before this one: a late frame, which the host
    ignores; then answers as usual."""
    worker = next(o for o in gc.get_objects() if type(o).__name__ == "SyncWorker")
    _connection().sock.sendall(_frame(4, 4, worker.last_started - 1))
    return _text(start_response, "answered")


HUGE = 20 * 1024 * 1024  # past the 16 MiB a frame holds


def huge_log(environ, start_response):
    import logging

    try:
        raise ValueError("d" * HUGE)
    except ValueError:
        logging.getLogger("worker_apps").exception("huge " + "m" * HUGE)
    return _text(start_response, "logged")


def huge_error(environ, start_response):
    raise RuntimeError("huge " + "e" * HUGE)


def half_frame(environ, start_response):
    """Dies after writing part of a frame header."""
    os.write(_connection().sock.fileno(), b"\x10\x00\x00")
    os._exit(3)


class _Counted:
    def __init__(self, name):
        self.name = name

    def __iter__(self):
        for _ in range(200000):
            time.sleep(0.002)
            yield b"x" * 1000

    def close(self):
        _closes[self.name] = _closes.get(self.name, 0) + 1


def stream(environ, start_response):
    start_response("200 OK", TEXT)
    return _Counted(_query(environ)["name"])


def closes(environ, start_response):
    return _text(start_response, _closes.get(_query(environ)["name"], 0))


def big_list(environ, start_response):
    """A list body far larger than a frame: it still gets a Content-Length."""
    start_response("200 OK", [("Content-Type", "application/octet-stream")])
    return [b"%07d\n" % i for i in range(int(_query(environ).get("lines", "200000")))]


def download(environ, start_response):
    """`mb` megabytes in 1 MB chunks, each made when the previous one is taken."""
    start_response("200 OK", [("Content-Type", "application/octet-stream")])
    block = b"d" * (1024 * 1024)
    for _ in range(int(_query(environ)["mb"])):
        yield block


def memory(environ, start_response):
    with open("/proc/self/statm") as statm:
        resident = int(statm.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")
    return _text(start_response, resident)


def streams(environ, start_response):
    """What the process's standard streams are, and a line printed to each."""
    print("printed to stdout", flush=True)
    print("printed to stderr", file=sys.stderr)
    report = {
        "stdout": type(sys.stdout).__name__, "stdout_buffer": type(sys.stdout.buffer).__name__,
        "stdout_fileno": sys.stdout.fileno(), "stderr_fileno": sys.stderr.fileno(),
        "stdin_read": sys.stdin.read(), "isatty": sys.stdout.isatty(), "encoding": sys.stdout.encoding,
    }
    start_response("200 OK", [("Content-Type", "application/json")])
    return [json.dumps(report).encode()]


def crash_leaving_a_child(environ, start_response):
    """Starts a child that keeps the worker's stdout and stderr open for a minute, writes its pid to ?pidfile (for the
    test to end it), then dies."""
    import subprocess

    child = subprocess.Popen(["sleep", "60"])
    with open(_query(environ)["pidfile"], "w") as file:
        file.write(str(child.pid))
    os._exit(9)


_calls = []


def record(environ, start_response):
    """Counts its calls by ?name (asked with /recorded?name=...)."""
    _calls.append(_query(environ)["name"])
    return _text(start_response, "recorded")


def recorded(environ, start_response):
    return _text(start_response, _calls.count(_query(environ)["name"]))


IMPORTED_BY = os.getpid()


def imported_by(environ, start_response):
    """The pid of the process that imported this module: a preloaded worker's template, or the worker itself."""
    return _text(start_response, f"{IMPORTED_BY} {os.getppid()}")


def record_fork():
    """A post_fork hook: notes this worker's pid in a file named after its parent (a template's pid, for a fork)."""
    with open(os.path.join(_tmp(), f"gatewaybridge-forks-{os.getppid()}"), "a") as file:
        file.write(f"{os.getpid()}\n")


def refuse_fork_when_asked():
    """A post_fork hook that raises while its parent's refusal file exists."""
    if os.path.exists(os.path.join(_tmp(), f"gatewaybridge-refuse-fork-{os.getppid()}")):
        raise RuntimeError("the database is not reachable from this worker")


def failing_fork():
    raise RuntimeError("post_fork could not open its connection")


def _tmp():
    import tempfile

    return tempfile.gettempdir()


def trace(environ, start_response):
    """The trace context the app received."""
    return _text(start_response, f"{environ.get('HTTP_TRACEPARENT', '-')} {environ.get('HTTP_TRACESTATE', '-')}")


def digest(environ, start_response):
    """The request body's length and SHA-256, and how it came: a file the host spilled it to, or bytes in memory."""
    import hashlib

    stream = environ["wsgi.input"]
    body = stream.read()
    return _text(start_response, f"{len(body)} {hashlib.sha256(body).hexdigest()} {'file' if hasattr(stream, 'name') else 'memory'}")
