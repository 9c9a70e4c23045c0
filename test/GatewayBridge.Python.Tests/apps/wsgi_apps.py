"""Bare WSGI apps for the tests: each shows one part of PEP 3333 as the server must honour it.

State the tests read back (close() counts, events) lives in module globals, keyed by a name the test
chooses, so tests that run in parallel in one interpreter do not see each other's counts.

One module of more than 400 lines on purpose: every test names its app as wsgi_apps:name, and the apps share
the state helpers below.
"""
import hashlib
import io
import json
import logging
import os
import sys
import threading
import time
import urllib.parse

TEXT = [("Content-Type", "text/plain")]
counts = {}
events = {}
lock = threading.Lock()


def _count(name):
    with lock:
        counts[name] = counts.get(name, 0) + 1


def _event(name):
    with lock:
        return events.setdefault(name, threading.Event())


def _query(environ):
    return dict(urllib.parse.parse_qsl(environ["QUERY_STRING"]))


def router(environ, start_response):
    """Serves every app of this module: /name/rest goes to the function name, with the rest as PATH_INFO."""
    name, _, rest = environ["PATH_INFO"][1:].partition("/")
    environ["SCRIPT_NAME"] += "/" + name
    environ["PATH_INFO"] = "/" + rest if rest else ""
    return globals()[name](environ, start_response)


def hello(environ, start_response):
    start_response("200 OK", TEXT)
    return [b"Hello, ", environ["PATH_INFO"].encode("latin-1"), b"!"]


def dump(environ, start_response):
    """The environ as JSON: str values as they are (latin-1 code points survive as \\u00XX), others as a type."""
    out = {}
    for key, value in environ.items():
        if type(value) is str:
            out[key] = value
        elif type(value) in (bool, tuple):
            out[key] = repr(value)
        else:
            out[key] = "<%s>" % type(value).__name__
    body = json.dumps(out, sort_keys=True).encode("ascii")
    start_response("200 OK", [("Content-Type", "application/json")])
    return [body]


def generator(environ, start_response):
    start_response("200 OK", TEXT)
    for i in range(3):
        yield b"chunk %d\n" % i


def empty_chunks(environ, start_response):
    start_response("200 OK", TEXT)
    yield b""
    yield b"a"
    yield b""
    yield b"b"


def input_report(environ, start_response):
    """How the app can read wsgi.input: whole, by lines, by iteration, in blocks; and what kind of file it is."""
    stream = environ["wsgi.input"]
    mode = _query(environ).get("mode", "read")
    if mode == "lines":
        data = b"".join(stream.readlines())
    elif mode == "iterate":
        data = b"".join(line for line in stream)
    elif mode == "readline":
        data = b""
        while True:
            line = stream.readline()
            if not line:
                break
            data += line
    else:
        digest = hashlib.sha256()
        size = 0
        largest = 0
        while True:
            block = stream.read(65536)
            if not block:
                break
            largest = max(largest, len(block))
            size += len(block)
            digest.update(block)
        report = {"size": size, "sha256": digest.hexdigest(), "largest_read": largest,
                  "type": type(stream).__name__, "has_fileno": _has_fileno(stream)}
        start_response("200 OK", [("Content-Type", "application/json")])
        return [json.dumps(report).encode()]
    start_response("200 OK", TEXT)
    return [data]


def _has_fileno(stream):
    try:
        stream.fileno()
        return True
    except (OSError, io.UnsupportedOperation, AttributeError):
        return False


def fails_before_body(environ, start_response):
    raise KeyError("missing-thing")


def fails_mid_body(environ, start_response):
    start_response("200 OK", TEXT)
    yield b"partial"
    raise RuntimeError("broke mid-stream")


def exc_info_before_headers(environ, start_response):
    start_response("200 OK", TEXT)
    try:
        raise ValueError("replaced")
    except ValueError:
        start_response("500 Internal Server Error", [("Content-Type", "text/plain"), ("X-Error", "1")], sys.exc_info())
    return [b"error page"]


def exc_info_after_headers(environ, start_response):
    start_response("200 OK", TEXT)
    yield b"first"
    try:
        raise ValueError("too late")
    except ValueError:
        start_response("500 Internal Server Error", TEXT, sys.exc_info())
    yield b"never"


def second_start_response(environ, start_response):
    start_response("200 OK", TEXT)
    start_response("200 OK", TEXT)
    return [b"no"]


def never_starts(environ, start_response):
    return []


def bad_header(environ, start_response):
    start_response("200 OK", [("Content-Type", "text/plain"), ("X-Evil", "a\r\nSet-Cookie: b=1")])
    return [b"no"]


def hop_by_hop(environ, start_response):
    start_response("200 OK", [("Content-Type", "text/plain"), ("Connection", "close")])
    return [b"no"]


def str_chunk(environ, start_response):
    start_response("200 OK", TEXT)
    return ["text, not bytes"]


def write_then_return(environ, start_response):
    write = start_response("200 OK", TEXT)
    write(b"written;")
    return [b"returned"]


def write_then_wait(environ, start_response):
    """write() must reach the client before it returns: the test releases the app only after reading 'early'."""
    name = _query(environ)["name"]
    write = start_response("200 OK", TEXT)
    write(b"early;")
    if not _event(name).wait(10):
        return [b"timeout"]
    return [b"late"]


def release(environ, start_response):
    _event(_query(environ)["name"]).set()
    start_response("200 OK", TEXT)
    return [b"released"]


def content_length_short(environ, start_response):
    start_response("200 OK", [("Content-Type", "text/plain"), ("Content-Length", "10")])
    return [b"12345"]


def content_length_long(environ, start_response):
    start_response("200 OK", [("Content-Type", "text/plain"), ("Content-Length", "3")])
    return [b"12345"]


def custom_status(environ, start_response):
    start_response("299 Quite Fine", TEXT)
    return [b"ok"]


def no_content(environ, start_response):
    start_response("204 No Content", [])
    return []


class Counted:
    """An iterable whose close() the tests count: the app's own close, not a wrapper's."""

    def __init__(self, name, chunks, fail=False, delay=0):
        self.name, self.chunks, self.fail, self.delay = name, chunks, fail, delay

    def __iter__(self):
        for chunk in self.chunks:
            if self.delay:
                time.sleep(self.delay)
            yield chunk
        if self.fail:
            raise RuntimeError("failed after the body")

    def close(self):
        _count(self.name)


def counted(environ, start_response):
    q = _query(environ)
    name = q["name"]
    start_response("200 OK", TEXT)
    if q.get("kind") == "list":
        return CountedList(name, [b"a", b"b"])
    if q.get("kind") == "fail":
        return Counted(name, [b"a"], fail=True)
    if q.get("kind") == "stream":
        # Chunks forever, slowly: the client leaves mid-stream.
        return Counted(name, (b"x" * 100 for _ in range(100000)), delay=0.005)
    return Counted(name, [b"a", b"b"])


class CountedList(list):
    def __init__(self, name, items):
        super().__init__(items)
        self.name = name

    def close(self):
        _count(self.name)


def close_count(environ, start_response):
    start_response("200 OK", TEXT)
    return [str(counts.get(_query(environ)["name"], 0)).encode()]


def close_fails(environ, start_response):
    class Body:
        def __iter__(self):
            yield b"body"

        def close(self):
            raise OSError("close went wrong")

    start_response("200 OK", TEXT)
    return Body()


def file_wrapper(environ, start_response):
    path = _query(environ)["path"]
    start_response("200 OK", [("Content-Type", "application/octet-stream")])
    f = open(path, "rb")
    f.seek(int(_query(environ).get("skip", "0")))
    return environ["wsgi.file_wrapper"](f, 8192)


def file_wrapper_bytesio(environ, start_response):
    start_response("200 OK", [("Content-Type", "application/octet-stream")])
    return environ["wsgi.file_wrapper"](io.BytesIO(b"not a real file"), 4)


def barrier(environ, start_response):
    """Passes only if `parties` calls run at once."""
    q = _query(environ)
    with lock:
        b = events.setdefault("barrier-" + q["name"], threading.Barrier(int(q["parties"])))
    try:
        b.wait(10)
        status = "200 OK"
    except threading.BrokenBarrierError:
        status = "503 Service Unavailable"
    start_response(status, TEXT)
    return [status.encode()]


def block(environ, start_response):
    """Blocks its thread until released (or 10 s)."""
    _event(_query(environ)["name"]).wait(10)
    start_response("200 OK", TEXT)
    return [b"unblocked"]


def spawn_counter(environ, start_response):
    """Starts a Python thread of the app's own that counts while no request runs."""
    name = _query(environ)["name"]

    def count():
        for _ in range(2000):
            _count(name)
            time.sleep(0.001)

    threading.Thread(target=count, daemon=True).start()
    start_response("200 OK", TEXT)
    return [b"spawned"]


def thread_state(environ, start_response):
    """threading.local survives between requests on one Python thread (a kept thread state)."""
    local = _thread_local
    local.hits = getattr(local, "hits", 0) + 1
    start_response("200 OK", TEXT)
    return [("%d:%d" % (threading.get_ident(), local.hits)).encode()]


_thread_local = threading.local()


def logs(environ, start_response):
    log = logging.getLogger("wsgi_apps.logs")
    log.info("info from python %s", "args")
    log.warning("warning from python")
    try:
        raise ValueError("logged failure")
    except ValueError:
        log.exception("with traceback")
    print("printed line")
    print("to stderr", file=sys.stderr)
    environ["wsgi.errors"].write("errors line 1\nerrors ")
    environ["wsgi.errors"].write("line 2\nunterminated")
    start_response("200 OK", TEXT)
    return [b"logged"]


def pid(environ, start_response):
    start_response("200 OK", TEXT)
    return [str(os.getpid()).encode()]


def factory(greeting="Hi"):
    def app(environ, start_response):
        start_response("200 OK", TEXT)
        return [greeting.encode()]

    return app


not_callable = 42


def file_wrapper_deleted(environ, start_response):
    """A temporary file the app unlinks at once: only its descriptor is left to send from."""
    import tempfile

    f = tempfile.TemporaryFile()
    f.write(b"gone but readable " * 1000)
    f.seek(0)
    start_response("200 OK", [("Content-Type", "application/octet-stream")])
    return environ["wsgi.file_wrapper"](f)


def touch(environ, start_response):
    """Counts that it ran."""
    _count(_query(environ)["name"])
    start_response("200 OK", TEXT)
    return [b"touched"]


def nul_header(environ, start_response):
    """A value with NULs: what a framework that only refuses CR and LF lets through from user input."""
    try:
        start_response("200 OK", [("Content-Type", "text/plain"), ("X-Name", "x\0Set-Cookie\0sid=evil")])
    except ValueError as error:
        start_response("400 Bad Request", TEXT)
        return [str(error).encode()]
    return [b"accepted"]


_kept_writes = {}


def keep_write(environ, start_response):
    """Keeps its write() for another request to misuse."""
    _kept_writes[_query(environ)["name"]] = start_response("200 OK", TEXT)
    return [b"kept"]


def use_kept_write(environ, start_response):
    write = _kept_writes[_query(environ)["name"]]
    start_response("200 OK", TEXT)
    try:
        write(b"stolen")
        return [b"accepted"]
    except OSError as error:
        return [("refused: %s" % error).encode()]


results = {}


def log_later(environ, start_response):
    """Starts an app thread that logs once released, possibly after its host has stopped."""
    name = _query(environ)["name"]

    def later():
        _event(name).wait(10)
        try:
            logging.getLogger("wsgi_apps.later").warning("logged after the host stopped")
            print("printed after the host stopped")
            results[name] = "ok"
        except BaseException as error:
            results[name] = repr(error)

    threading.Thread(target=later, daemon=True).start()
    start_response("200 OK", TEXT)
    return [b"started"]


def result(environ, start_response):
    start_response("200 OK", TEXT)
    return [results.get(_query(environ)["name"], "<none>").encode()]
