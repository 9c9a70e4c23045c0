"""A GatewayBridge worker process: runs one Python WSGI app for the .NET host that started it (never run by hand).

The host owns Kestrel, the request queue and supervision; a worker only runs Python. It connects to the Unix
socket the host gave it (in a folder only the host's user can open), proves itself with the host's secret,
checks the host's answer against a second one, imports the app, and then serves requests until told to stop.
Requests and responses travel as frames (gatewaybridge_frames). The app is driven by gatewaybridge_wsgi's
steps, exactly as in the host's own interpreter, so both modes give an app the same environ and the same
start_response, write() and close().

One module of more than 400 lines on purpose: it is the script the host starts, and its handshake, request loop,
signals and exit share the process's one connection and state.
"""

import faulthandler
import hmac
import json
import mmap
import os
import signal
import socket
import sys
import threading
import traceback
from collections import deque

import gatewaybridge_host as host
import gatewaybridge_wsgi as shim
from gatewaybridge_frames import (CANCEL, CLOSE_FAILED, CONFIG, CREDIT, DESCRIPTOR, DONE, END, ERROR, FAILED, FILE, FRAGMENT, GOODBYE, HEAD,
                                  HELLO, LENGTH, LOG, LOG_HEAD, OFFSET_COUNT, READY, REQUEST, RESPONSE, RETIRE, STOP, U32, U64,
                                  WHOLE, WINDOW, Connection, HostGone)

BOOT_ERROR = 3  # the exit status of a worker whose app could not be imported (gunicorn's WORKER_BOOT_ERROR)


class Request:
    __slots__ = ("id", "credit", "cancelled", "held", "changed")

    def __init__(self, request_id):
        self.id = request_id
        self.credit = WINDOW
        self.cancelled = False
        self.held = None  # a descriptor the host opens by /proc path, closed at DONE
        self.changed = None  # threaded mode: a Condition notified on CREDIT and CANCEL


class Worker:
    """Serves requests on one connection: inline on the main thread (Threads = 1, gunicorn's sync model), or on a
    pool of threads with the main thread reading frames."""

    def __init__(self, conn, app, config):
        self.conn = conn
        self.app = app
        self.threads = config["threads"]
        self.max_memory = config.get("max_memory")
        self.requests = {}
        self.pending = deque()
        self.stopping = False
        self.goodbye_sent = False
        self.lock = threading.Lock()
        self.local = threading.local()
        self.queue = deque()
        self.queue_ready = threading.Condition(self.lock)
        self.pid = os.getpid()
        self.scoreboard = _scoreboard(config.get("scoreboard"))
        self.last_started = 0
        self.cancelled_early = set()  # ids cancelled before they started: they are answered without running the app

    # -- serving -------------------------------------------------------------------------------------------

    def serve(self):
        _take_sigterm(lambda: (self._say_goodbye(), self.conn.flush()))
        threads = [threading.Thread(target=self._thread_loop, name=f"GatewayBridge worker thread {i + 1}", daemon=True)
                   for i in range(self.threads if self.threads > 1 else 0)]
        for thread in threads:
            thread.start()
        try:
            while True:
                frame = self.pending.popleft() if self.pending else self.conn.next_frame()
                if frame[0] == STOP:
                    break
                if frame[0] == REQUEST:
                    if threads:
                        with self.lock:
                            self.queue.append(frame)
                            self.queue_ready.notify()
                    else:
                        # What arrived while the last request ran is read first: a CANCEL for this one among it.
                        self._read_arrived()
                        if self._started(frame[2]):
                            self._serve_request(frame)
                        # Each answer goes out before the next request starts: a slow one must not hold it back.
                        self.conn.flush()
                else:
                    self._control(frame)
        except HostGone:
            pass
        finally:
            with self.lock:
                self.stopping = True
                self.queue_ready.notify_all()
        self._finish(threads)

    def _read_arrived(self):
        while self.conn.readable(0):
            frame = self.conn.next_frame()
            if frame[0] == REQUEST or frame[0] == STOP:
                self.pending.append(frame)
            else:
                self._control(frame)

    def _finish(self, threads):
        # STOP means "finish what was received": the threads answer the requests still queued, while the credit and
        # the cancels for them keep coming in.
        try:
            while any(thread.is_alive() for thread in threads):
                if self.conn.readable(0.05):
                    frame = self.conn.next_frame()
                    if frame[0] != REQUEST and frame[0] != STOP:
                        self._control(frame)
        except HostGone:
            pass
        for thread in threads:
            thread.join()

    def _started(self, request_id):
        """Marks the request started; False if it was cancelled before it started (it is answered, without the app)."""
        # Requests are taken in the order they came (the host sends them in id order), so the last one taken tells the
        # host, should this worker die, which of those it sent ahead never started and can go to another worker.
        # Shared memory: no system call.
        with self.lock:
            self.last_started = request_id
            cancelled = request_id in self.cancelled_early
            self.cancelled_early.discard(request_id)
        if self.scoreboard is not None:
            U32.pack_into(self.scoreboard, 0, request_id)
        if cancelled:
            self.conn.send(RESPONSE, END, request_id)
            self.conn.flush()
        return not cancelled

    def _say_goodbye(self):
        with self.lock:
            if self.goodbye_sent:
                return
            self.goodbye_sent = True
        self.conn.send(GOODBYE, 0, 0)

    def _control(self, frame):
        kind, _, request_id, payload = frame
        request = self.requests.get(request_id)
        if kind == DONE and request is not None:
            self._release(request)
        elif request is None:
            if kind == CANCEL:
                with self.lock:
                    if request_id > self.last_started:
                        # Sent ahead and cancelled before it started: the app never sees it.
                        self.cancelled_early.add(request_id)
            return
        elif request.changed is not None:
            with request.changed:
                if kind == CREDIT:
                    request.credit += U32.unpack(payload)[0]
                elif kind == CANCEL:
                    request.cancelled = True
                request.changed.notify_all()
        elif kind == CREDIT:
            request.credit += U32.unpack(payload)[0]
        elif kind == CANCEL:
            request.cancelled = True

    def _thread_loop(self):
        while True:
            with self.lock:
                while not self.queue and not self.stopping:
                    self.queue_ready.wait()
                if not self.queue:
                    return
                frame = self.queue.popleft()
            if self._started(frame[2]):
                self._serve_request(frame)
                self.conn.flush()

    # -- one request ---------------------------------------------------------------------------------------

    def _serve_request(self, frame):
        _, _, request_id, payload = frame
        request = Request(request_id)
        if self.threads > 1:
            request.changed = threading.Condition()
        self.requests[request_id] = request
        self.local.request = request
        (environ_length,) = U32.unpack_from(payload, 0)
        environ_text = str(memoryview(payload)[4:4 + environ_length], "latin-1")
        body_kind = payload[4 + environ_length]
        body = payload[5 + environ_length:]
        path = body.decode("utf-8") if body_kind == 2 else None
        body = body if body_kind == 1 else None
        try:
            step = shim.start(self.app, request_id, environ_text, body, len(body or b""), path)
            while self._answer(request, step):
                step = shim.resume(step[3])
        finally:
            self.local.request = None
            if request.held is None:
                self.requests.pop(request_id, None)
            if _forked:
                # A child the app forked came back here instead of exiting: it must not serve the parent's requests.
                os._exit(0)
            self._check_memory()

    def _answer(self, request, step):
        """Sends one step of the response; True when the app has more to give and the host still wants it."""
        head, data, kind, extra = step
        if kind == shim.CHUNK:
            if not self._send_body(request, head, data, 0) or request.cancelled:
                self._closed(request, shim.close(extra), cancelled=True)
                return False
            return True
        if kind != shim.CHUNK and extra is not None:
            self.conn.send(CLOSE_FAILED, 0, request.id, extra.encode("utf-8", "backslashreplace"))
        if kind == shim.ERROR:
            error = "\0".join(data).encode("utf-8", "backslashreplace")
            self.conn.send(ERROR, 0, request.id, error)
        elif kind == shim.FILE:
            self._send_file(request, head, data)
        elif kind == shim.WHOLE:
            if len(data) <= FRAGMENT:
                self.conn.send(RESPONSE, (HEAD if head is not None else 0) | WHOLE | END, request.id, *_head(head), data)
            else:
                self._send_body(request, head, data, LENGTH)
                self.conn.send(RESPONSE, END, request.id)
        else:  # END
            self.conn.send(RESPONSE, (HEAD if head is not None else 0) | END, request.id, *_head(head))
        if self.threads > 1:
            self.conn.flush()
        return False

    def _closed(self, request, failure, cancelled):
        # The host freed the request's slot only once it hears the response is over, whatever ended it.
        if failure is not None:
            self.conn.send(CLOSE_FAILED, 0, request.id, failure.encode("utf-8", "backslashreplace"))
        self.conn.send(RESPONSE, END, request.id)
        self.conn.flush()

    def _send_body(self, request, head, data, flags):
        """Sends body bytes in fragments, each within the credit the host granted; False if the request was cancelled."""
        view = memoryview(data)
        first = True
        while first or view:
            if not self._wait_credit(request):
                return False
            piece, view = view[:FRAGMENT], view[FRAGMENT:]
            frame_flags, parts = 0, []
            if first and head is not None:
                frame_flags |= HEAD
                parts.extend(_head(head))
            if first and flags & LENGTH:
                frame_flags |= LENGTH
                parts.append(U64.pack(len(data)))
            parts.append(piece)
            self.conn.send(RESPONSE, frame_flags, request.id, *parts)
            if request.changed is not None:
                with request.changed:
                    request.credit -= len(piece)
            else:
                request.credit -= len(piece)
            self.conn.flush()
            first = False
        return True

    def _wait_credit(self, request):
        while request.credit <= 0 and not request.cancelled:
            if request.changed is not None:
                with request.changed:
                    while request.credit <= 0 and not request.cancelled:
                        request.changed.wait()
            else:
                frame = self.conn.next_frame()
                if frame[0] == REQUEST or frame[0] == STOP:
                    self.pending.append(frame)
                else:
                    self._control(frame)
        return not request.cancelled

    def _send_file(self, request, head, data):
        fd, offset, count, path = data
        flags = HEAD if head is not None else 0
        if path is None and os.path.isdir(f"/proc/{self.pid}/fd"):
            # The host opens the descriptor itself, so the bytes never pass through this process; it is held until then.
            path = f"/proc/{self.pid}/fd/{fd}"
            flags |= DESCRIPTOR
            request.held = fd
        elif path is None:
            self._send_by_copy(request, head, fd, offset, count)
            os.close(fd)
            return
        else:
            os.close(fd)
        self.conn.send(FILE, flags, request.id, *_head(head), OFFSET_COUNT.pack(offset, count), path.encode("utf-8"))

    def _send_by_copy(self, request, head, fd, offset, count):
        # Without /proc, a file with no name the host could open goes through the socket.
        with os.fdopen(os.dup(fd), "rb") as file:
            file.seek(offset)
            data = file.read(count)
        self._send_body(request, head, data, LENGTH)
        self.conn.send(RESPONSE, END, request.id)

    def _release(self, request):
        if request.held is not None:
            os.close(request.held)
            request.held = None
        self.requests.pop(request.id, None)

    def _check_memory(self):
        if self.max_memory and _resident_bytes() > self.max_memory:
            self.conn.send(RETIRE, 0, 0)

    # -- what the shim calls --------------------------------------------------------------------------------

    def write(self, call_id, head, data):
        """PEP 3333's write(): the bytes go to the host before it returns; False once the request is gone."""
        request = getattr(self.local, "request", None)
        if request is None or request.id != call_id:
            raise RuntimeError("write() was called outside the request it belongs to; call it from the app while that request runs.")
        if not data and head is None:
            return not request.cancelled
        return self._send_body(request, head, data, 0)

    def log(self, name, level, message, detail):
        request = getattr(self.local, "request", None)
        self.conn.send(LOG, 0, request.id if request else 0, LOG_HEAD.pack(0, level),
                       "\0".join((name, message, detail or "")).encode("utf-8", "backslashreplace"))
        if request is None:
            self.conn.flush()

    def errors_line(self, line):
        request = getattr(self.local, "request", None)
        self.conn.send(LOG, 0, request.id if request else 0, LOG_HEAD.pack(1, 30), line.encode("utf-8", "backslashreplace"))


_forked = False
_sock = None


def _take_sigterm(goodbye):
    """SIGTERM is a graceful stop, as gunicorn's workers take it: the host is told at once (GOODBYE: send nothing new,
    then STOP once what this worker holds is answered). The signal's C handler writes to a pipe a thread of its own
    reads, so it is taken whichever thread it hits and whatever the main thread is doing; no signal stays blocked,
    so the app's own children get SIGTERM as usual."""
    read_end, write_end = os.pipe2(os.O_NONBLOCK | os.O_CLOEXEC)
    os.set_blocking(read_end, True)
    signal.signal(signal.SIGTERM, lambda *_: None)
    signal.set_wakeup_fd(write_end, warn_on_full_buffer=False)

    def wait():
        while True:
            if signal.SIGTERM in os.read(read_end, 64):
                goodbye()

    threading.Thread(target=wait, name="GatewayBridge SIGTERM", daemon=True).start()


def _in_child():
    global _forked
    _forked = True
    _sock.close()


def _scoreboard(path):
    if not path:
        return None
    with open(path, "r+b") as file:
        return mmap.mmap(file.fileno(), 4096)


def _head(head):
    if head is None:
        return ()
    encoded = head.encode("utf-8", "surrogateescape")
    return U32.pack(len(encoded)), encoded


def _resident_bytes():
    with open("/proc/self/statm", "rb") as statm:
        return int(statm.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")


def _handshake(conn, token, host_token):
    conn.send(HELLO, 0, 0, token)
    conn.flush()
    kind, _, _, payload = conn.next_frame()
    config = json.loads(payload) if kind == CONFIG else {}
    if not hmac.compare_digest(config.get("proof", "").encode(), host_token):
        # Whoever answered is not the host that started this worker.
        raise SystemExit("gatewaybridge worker: the connection did not come from the host that started this worker; refused.")
    return config


def _log_now(conn, name, level, message, detail):
    conn.send(LOG, 0, 0, LOG_HEAD.pack(0, level), "\0".join((name, message, detail or "")).encode("utf-8", "backslashreplace"))
    conn.flush()


def _configure(conn, config, worker_ref):
    for folder in reversed(config.get("path", [])):
        if folder not in sys.path:
            sys.path.insert(0, folder)
    shim._WSGI.update({"wsgi.multiprocess": True, "wsgi.multithread": config["threads"] > 1})
    # Records logged while the app is imported, before anything serves, go to the host at once.
    shim._log = lambda *record: worker_ref[0].log(*record) if worker_ref[0] else _log_now(conn, *record)
    shim._errors_line = lambda line: worker_ref[0].errors_line(line)
    shim._write = lambda call_id, head, data: worker_ref[0].write(call_id, head, data)
    host.install_logging(config.get("log_level", 20))
    # print() reaches the host a line at a time, as it does in the host's own interpreter.
    sys.stdout.reconfigure(line_buffering=True)
    traceback_file = config.get("traceback_file")
    if traceback_file:
        # The host asks for every thread's traceback (SIGUSR1) before it stops a worker stuck in app code.
        faulthandler.register(signal.SIGUSR1, file=open(traceback_file, "w"), all_threads=True)


def main():
    sock_path = os.environ.pop("GATEWAYBRIDGE_SOCKET")
    token = os.environ.pop("GATEWAYBRIDGE_WORKER_TOKEN").encode()
    host_token = os.environ.pop("GATEWAYBRIDGE_HOST_TOKEN").encode()
    global _sock
    sock = _sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    sock.connect(sock_path)
    conn = Connection(sock)

    # A child the app forks must not hold the host's connection: the host would not see this worker die.
    os.register_at_fork(after_in_child=_in_child)
    # A process group of its own: Ctrl+C at the host's terminal stops the host, which stops its workers in order,
    # instead of interrupting them in the middle of their requests.
    os.setpgid(0, 0)

    config = _handshake(conn, token, host_token)
    worker_ref = [None]
    asgi = config.get("interface") == "asgi"
    try:
        _configure(conn, config, worker_ref)
        app = host.load_app(config["app"])
        if config.get("validate") and not asgi:
            app = host.validated(app)
    except BaseException:
        conn.send(FAILED, 0, 0, traceback.format_exc().encode("utf-8", "backslashreplace"))
        conn.flush()
        sys.exit(BOOT_ERROR)
    if asgi:
        # An ASGI app: its own loop serves every request (gatewaybridge_asgi); the lifespan runs before READY.
        import gatewaybridge_asgi

        sys.exit(gatewaybridge_asgi.run(sock, app, config["app"], config["graceful_timeout"], max_memory=config.get("max_memory")))
    worker = worker_ref[0] = Worker(conn, app, config)
    info = {"pid": os.getpid(), "python": sys.version.split()[0], "executable": sys.executable}
    conn.send(READY, 0, 0, json.dumps(info).encode())
    conn.flush()
    worker.serve()
    try:
        conn.flush()
    except OSError:
        pass


if __name__ == "__main__":
    main()
