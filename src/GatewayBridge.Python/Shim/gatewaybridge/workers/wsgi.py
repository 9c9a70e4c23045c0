"""What the two WSGI workers share (sync.py, gthread.py): a REQUEST taken from the worker's request queue run through
wsgi.Server, its steps sent back as RESPONSE, FILE and ERROR frames within the credit the host grants, write(),
wsgi.errors lines and logging records as LOG frames of the request, and the host's CREDIT, CANCEL and DONE for it. When
a request is taken (a thread free to run it) and how it waits for credit is each worker's own."""

import os
import threading
import time

from gatewaybridge import apps, protocol, wsgi
from gatewaybridge.protocol import (CANCEL, CLOSE_FAILED, CREDIT, DESCRIPTOR, DONE, END, ERROR, FILE, FILE_BODY, FRAGMENT,
                                    HEAD, INLINE_BODY, LENGTH, LOG, REQUEST, RESPONSE, STARTED, STOP, TRACED, U32, WHOLE,
                                    WINDOW)
from gatewaybridge.workers import base


class Request:
    """One request the worker started: the credit the host granted, whether it was cancelled, and a descriptor the host
    opens by its /proc path (held until DONE). Waits for credit by reading the host's frames on its own thread."""

    __slots__ = ("id", "credit", "cancelled", "held")

    def __init__(self, request_id):
        self.id = request_id
        self.credit = WINDOW
        self.cancelled = False
        self.held = None

    def grant(self, count):
        self.credit += count

    def cancel(self):
        self.cancelled = True

    def spend(self, count):
        self.credit -= count

    def wait_for_credit(self, worker):
        while self.credit <= 0 and not self.cancelled:
            worker.pump()


class WsgiWorker(base.Worker):
    """Serves WSGI requests on the connection; run() is each kind's loop."""

    request_class = Request

    def __init__(self, connection, config, preloaded=None):
        super().__init__(connection, config, preloaded)
        self.server = wsgi.Server(self, multithread=config.threads > 1, multiprocess=True)
        self.requests = {}  # the requests started and not yet done with
        self.local = threading.local()
        self.board = None
        self.queue = config.requests  # the requests no thread has taken yet (docs/worker-protocol.md)
        self.last_started = 0

    def load(self):
        app = super().load()
        return apps.validated(app) if self.config.validate else app

    def ready(self):
        if self.queue is None or not self.config.request_limit:
            raise protocol.ProtocolError("a CONFIG without the worker's request queue (a descriptor, and its request_limit)")
        self.board = self.scoreboard()
        super().ready()

    def receive(self):
        """The next frame on the connection (requests come by the queue, never here)."""
        frame = self.connection.next_frame()
        kind, _, call_id, _ = frame
        if kind not in (CREDIT, CANCEL, DONE, STOP):
            raise protocol.ProtocolError(f"a frame of type {kind}, which a WSGI worker is never sent on its connection")
        if kind != STOP and call_id == 0:
            raise protocol.ProtocolError(f"a frame of type {kind} for request 0, which is never sent")
        return frame

    def decode(self, message, size):
        """A message of the request queue as a frame: (REQUEST, flags, id, (environ, body kind, body))."""
        call_id, flags, environ, body_kind, body = protocol.decode_request_message(message, size)
        return REQUEST, flags, call_id, (environ, body_kind, body)

    def control(self, frame):
        """CREDIT, CANCEL or DONE for a request; one for a request that is over (a late one) or not taken here yet (the
        host cancels a request it could not take back as a thread of this worker took it) is ignored."""
        kind, _, call_id, payload = frame
        with self.lock:
            request = self.requests.get(call_id)
            if request is None:
                return
        if kind == DONE:
            self._release(request)
        elif kind == CREDIT:
            request.grant(protocol.decode_u32(payload))
        else:
            request.cancel()

    def take(self, request_id):
        """Starts the request taken from the queue: returns its Request. Called under the lock by a worker that takes
        requests from more than one thread."""
        # The queue gives requests in the order the host sent them (ids grow), so the highest one taken tells the host's
        # watchdog which of those it holds are running. Shared memory: no system call.
        if request_id > self.last_started:
            self.last_started = request_id
            if self.board is not None:
                U32.pack_into(self.board, 0, request_id)
        request = self.requests[request_id] = self.request_class(request_id)
        return request

    def serve_request(self, request, frame):
        """Runs one request to its end (or until the host cancels it), then sends what is queued."""
        _, flags, request_id, (environ, body_kind, body) = frame
        if flags & TRACED:
            # When it waited for a thread here ends, for the host's trace: the clock is the host's too, and the frame
            # goes out with the response's first one.
            self.connection.send(STARTED, 0, request_id, protocol.encode_started(time.monotonic_ns()))
        self.local.request = request
        inline = body if body_kind == INLINE_BODY else None
        try:
            step = self.server.start(self.app, request_id, environ, inline, len(inline or b""),
                                     body if body_kind == FILE_BODY else None)
            while self._answer(request, step):
                step = self.server.resume(step[3])
        finally:
            self.local.request = None
            if request.held is None:
                self.requests.pop(request_id, None)
            if self.forked:
                # A child the app forked came back here instead of exiting: it must not serve the parent's requests.
                os._exit(0)
            self.check_memory()
            # Each answer goes out before the next request starts: a slow one must not hold it back.
            self.connection.flush()

    def _answer(self, request, step):
        """Sends one step of the response; True when the app has more to give and the host still wants it."""
        head, data, kind, extra = step
        if kind == wsgi.CHUNK:
            if not self._send_body(request, head, data, 0) or request.cancelled:
                failure = self.server.close(extra)
                if failure is not None:
                    self.connection.send(CLOSE_FAILED, 0, request.id, protocol.encode_text(failure))
                # The host frees the request only once it hears the response is over, whatever ended it.
                self.connection.send(RESPONSE, END, request.id)
                return False
            return True
        if extra is not None:
            self.connection.send(CLOSE_FAILED, 0, request.id, protocol.encode_text(extra))
        if kind == wsgi.ERROR:
            self.connection.send(ERROR, 0, request.id, protocol.encode_error(*data))
        elif kind == wsgi.FILE:
            self._send_file(request, head, data)
        elif kind == wsgi.WHOLE and len(data) > FRAGMENT:
            self._send_body(request, head, data, LENGTH)
            self.connection.send(RESPONSE, END, request.id)
        else:  # WHOLE that fits a frame, or END
            flags = (HEAD if head is not None else 0) | END | (WHOLE if kind == wsgi.WHOLE else 0)
            self.connection.send(RESPONSE, flags, request.id, *protocol.encode_response(flags, head, None, data))
        return False

    def _send_body(self, request, head, data, flags):
        """Sends body bytes in fragments, each within the credit the host granted; False if the request was cancelled."""
        view = memoryview(data)
        first = True
        while first or view:
            request.wait_for_credit(self)
            if request.cancelled:
                return False
            piece, view = view[:FRAGMENT], view[FRAGMENT:]
            frame_flags = (HEAD if first and head is not None else 0) | (LENGTH if first and flags & LENGTH else 0)
            self.connection.send(RESPONSE, frame_flags, request.id,
                                 *protocol.encode_response(frame_flags, head, len(data), piece))
            request.spend(len(piece))
            self.connection.flush()
            first = False
        return True

    def _send_file(self, request, head, data):
        fd, offset, count, path = data
        flags = HEAD if head is not None else 0
        if path is None and os.path.isdir(f"/proc/{self.pid}/fd"):
            # The host opens the descriptor itself, so the bytes never pass through this process; it is held until then.
            path = f"/proc/{self.pid}/fd/{fd}"
            flags |= DESCRIPTOR
            request.held = fd
        elif path is None:
            # Without /proc, a file with no name the host could open goes through the socket.
            with os.fdopen(fd, "rb") as file:
                file.seek(offset)
                body = file.read(count)
            self._send_body(request, head, body, LENGTH)
            self.connection.send(RESPONSE, END, request.id)
            return
        else:
            os.close(fd)
        self.connection.send(FILE, flags, request.id, *protocol.encode_file(flags, head, offset, count, path))

    def _release(self, request):
        if request.held is not None:
            os.close(request.held)
            request.held = None
        self.requests.pop(request.id, None)

    # -- what wsgi.Server hands over while a request runs ---------------------------------------------------------

    def write(self, call_id, head, data):
        """PEP 3333's write(): the bytes go to the host before it returns; False once the request is gone."""
        request = getattr(self.local, "request", None)
        if request is None or request.id != call_id:
            raise RuntimeError("write() was called outside the request it belongs to; call it from the app while that request runs.")
        if not data and head is None:
            return not request.cancelled
        return self._send_body(request, head, data, 0)

    def send_log(self, payload):
        """A LOG frame of the request this thread runs goes out with the request's next frames; outside one, at once."""
        request = getattr(self.local, "request", None)
        self.connection.send(LOG, 0, request.id if request else 0, payload)
        if request is None:
            self.connection.flush()
