"""What the two WSGI workers share (sync.py, gthread.py): a REQUEST frame run through wsgi.Server, its steps sent back
as RESPONSE, FILE and ERROR frames within the credit the host grants, write(), wsgi.errors lines and logging records
as LOG frames of the request, and the host's CREDIT, CANCEL and DONE for it. How a request waits for credit is each
worker's own (its Request class)."""

import os
import threading

from gatewaybridge import apps, protocol, wsgi
from gatewaybridge.protocol import (CANCEL, CLOSE_FAILED, CREDIT, DESCRIPTOR, DONE, END, ERROR, FILE, FILE_BODY, FRAGMENT,
                                    HEAD, INLINE_BODY, LENGTH, LOG, REQUEST, RESPONSE, STOP, U32, WHOLE, WINDOW)
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

    def __init__(self, connection, config):
        super().__init__(connection, config)
        self.server = wsgi.Server(self, multithread=config.threads > 1, multiprocess=True)
        self.requests = {}  # the requests started and not yet done with
        self.local = threading.local()
        self.board = None
        self.opened = 0  # the last request id received: ids only grow
        self.last_started = 0
        self.cancelled_early = set()  # ids cancelled before they started: answered without running the app

    def load(self):
        app = super().load()
        return apps.validated(app) if self.config.validate else app

    def ready(self):
        self.board = self.scoreboard()
        super().ready()

    def receive(self):
        """The next frame from the host, with the protocol's rule on ids applied to it; a REQUEST's payload comes
        decoded (environ, body kind, body), so that a malformed one ends the worker here, on its main thread."""
        frame = self.connection.next_frame()
        kind, flags, call_id, payload = frame
        if kind == REQUEST:
            if call_id <= self.opened:
                raise protocol.ProtocolError(f"request {call_id} after request {self.opened}: ids only grow")
            self.opened = call_id
            return kind, flags, call_id, protocol.decode_request(payload)
        elif kind not in (CREDIT, CANCEL, DONE, STOP):
            raise protocol.ProtocolError(f"a frame of type {kind}, which a WSGI worker is never sent")
        elif kind != STOP and (call_id == 0 or call_id > self.opened):
            raise protocol.ProtocolError(f"a frame of type {kind} for request {call_id}, which was never sent")
        return frame

    def control(self, frame):
        """CREDIT, CANCEL or DONE for a request; a late one, for a request that is over, is ignored."""
        kind, _, call_id, payload = frame
        with self.lock:
            # Under the lock that take() holds: a request is either not taken yet (a cancel is kept for it) or registered.
            request = self.requests.get(call_id)
            if request is None:
                if kind == CANCEL and call_id > self.last_started:
                    # Sent ahead and cancelled before it started: the app never sees it.
                    self.cancelled_early.add(call_id)
                return
        if kind == DONE:
            self._release(request)
        elif kind == CREDIT:
            request.grant(protocol.decode_u32(payload))
        else:
            request.cancel()

    def take(self, request_id):
        """Starts the request: returns its Request, or None if it was cancelled before it started (it is answered then,
        without the app). Called under the lock by a worker that takes requests from more than one thread."""
        # Requests are taken in the order they came (the host sends them in id order), so the last one taken tells the
        # host, should this worker die, which of those it sent ahead never started and can go to another worker.
        # Shared memory: no system call.
        self.last_started = request_id
        if self.board is not None:
            U32.pack_into(self.board, 0, request_id)
        if request_id in self.cancelled_early:
            self.cancelled_early.discard(request_id)
            self.connection.send(RESPONSE, END, request_id)
            return None
        request = self.requests[request_id] = self.request_class(request_id)
        return request

    def serve_request(self, request, frame):
        """Runs one request to its end (or until the host cancels it), then sends what is queued."""
        _, _, request_id, (environ, body_kind, body) = frame
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
