"""An ASGI server over the worker protocol: serves one ASGI 3 app (Starlette, FastAPI, Django's ASGI handler) on an
asyncio loop, for the .NET host at the other end of a socket. It runs in a worker process (workers/asgi.py), or on a
thread of the host's own interpreter over a socket pair (run_embedded): the same frames either way (protocol.py;
docs/worker-protocol.md). The host owns HTTP and WebSockets (Kestrel); this module owns the ASGI protocol: the scope,
receive() and send() with their rules, the lifespan, and backpressure both ways.

One module of more than 400 lines on purpose: the frame loop, a request's receive() and send() with their rules,
and the lifespan are one protocol over one connection.
"""

import asyncio
import logging
import traceback
from urllib.parse import unquote

from gatewaybridge import protocol
from gatewaybridge.protocol import (ASGI_BODY, ASGI_DISCONNECT, ASGI_HTTP, ASGI_RESPONSE_BODY, ASGI_START, CREDIT,
                                    DONE_APP, EMPTY, ERROR, FAILED, FRAGMENT, MAX_PAYLOAD, MORE, READY, STOP, TAKEN, TEXT,
                                    WINDOW, WS_ACCEPT, WS_CLOSE, WS_CONNECT, WS_DISCONNECT, WS_MESSAGE, WS_SEND)

ASGI_VERSION = "3.0"
ASGI_SPEC_VERSION = "2.3"
# RFC 6455's codes an endpoint may send, as the websockets library checks them.
CLOSE_CODES = frozenset((1000, 1001, 1002, 1003, 1007, 1008, 1009, 1010, 1011, 1012, 1013, 1014))

_log = logging.getLogger("gatewaybridge.asgi")


class AppError(Exception):
    """A rule of the ASGI spec the app broke: its message names the rule."""


class Server(asyncio.Protocol):
    """Frames in, app calls out, on one loop; every request is a task. What the tasks send in one turn of the loop
    goes to the host in one write."""

    def __init__(self, app, spec, on_stopped):
        self.app = app
        self.spec = spec
        self.state = None
        self.calls = protocol.Calls()
        self.transport = None
        self.frames = protocol.FrameBuffer(protocol.FROM_HOST)
        self.failure = None
        self.out = []
        self.flushing = False
        self.loop = asyncio.get_running_loop()
        self.on_stopped = on_stopped

    # -- the connection ----------------------------------------------------------------------------------------

    def connection_made(self, transport):
        self.transport = transport

    def connection_lost(self, exc):
        # The host is gone: nobody to serve.
        self.on_stopped()

    def data_received(self, data):
        try:
            for kind, flags, call_id, payload in self.frames.feed(data):
                self.on_frame(kind, flags, call_id, payload)
        except Exception as error:
            # on_frame runs no app code: whatever it raises, the host's bytes cannot be trusted any more. This server
            # stops, and its host sees it go.
            self.failure = error if isinstance(error, protocol.ProtocolError) else protocol.ProtocolError(repr(error))
            self.transport.close()

    def send(self, kind, flags, request_id, payload=b""):
        self.out.extend(protocol.frame(kind, flags, request_id, payload) if payload else protocol.frame(kind, flags, request_id))
        if not self.flushing:
            self.flushing = True
            self.loop.call_soon(self.flush)

    def flush(self):
        self.flushing = False
        out, self.out = self.out, []
        if out and self.transport is not None and not self.transport.is_closing():
            self.transport.write(b"".join(out))

    def send_threadsafe(self, frame):
        # Log records may come from any thread (run_in_executor, the app's own threads): only the loop writes.
        self.loop.call_soon_threadsafe(self._send_frame, frame)

    def _send_frame(self, frame):
        self.out.append(frame)
        self.flush()

    # -- frames ------------------------------------------------------------------------------------------------

    def on_frame(self, kind, flags, request_id, payload):
        if kind == ASGI_HTTP or kind == WS_CONNECT:
            call = Call(self, request_id, _scope(payload, kind == WS_CONNECT, self.state))
            if flags & EMPTY:
                # A dict of its own: an app (or a middleware) may change the messages it receives.
                call.inbox.append(({"type": "http.request", "body": b"", "more_body": False}, 0))
            self.calls.open(request_id, call)
            call.task = self.loop.create_task(call.run())
            return
        if kind == STOP:
            self.on_stopped()
            return
        if kind not in (CREDIT, ASGI_BODY, ASGI_DISCONNECT, WS_MESSAGE, WS_DISCONNECT):
            raise protocol.ProtocolError(f"a frame of type {kind}, which an ASGI server is never sent")
        call = self.calls.get(request_id)
        if call is None:
            # The app returned before the host's frame for it arrived.
            return
        if kind == CREDIT:
            call.credit += protocol.decode_u32(payload)
        elif kind == ASGI_BODY:
            call.inbox.append(({"type": "http.request", "body": payload, "more_body": bool(flags & MORE)}, len(payload)))
        elif kind == ASGI_DISCONNECT:
            call.disconnected = True
        elif kind == WS_MESSAGE:
            if flags & TEXT:
                call.inbox.append(({"type": "websocket.receive", "text": payload.decode("utf-8")}, len(payload)))
            else:
                call.inbox.append(({"type": "websocket.receive", "bytes": payload}, len(payload)))
        elif kind == WS_DISCONNECT:
            call.disconnected = True
            call.inbox.append(({"type": "websocket.disconnect", "code": protocol.decode_close(payload)[0]}, 0))
        call.wake()


class Call:
    """One request or WebSocket: receive() and send() with the spec's rules, and the app's task."""

    __slots__ = ("server", "id", "scope", "websocket", "inbox", "waiters", "credit", "disconnected", "started", "finished",
                 "closed", "done", "task")

    def __init__(self, server, request_id, scope):
        self.server = server
        self.id = request_id
        self.scope = scope
        self.websocket = scope["type"] == "websocket"
        self.inbox = []
        # receive() and send() may wait at the same time (a task watching for http.disconnect while the body waits for
        # credit, as Starlette's StreamingResponse does): each frame wakes both, and each checks its own condition.
        self.waiters = []
        self.credit = WINDOW
        self.disconnected = False
        self.started = False  # http: the response started; websocket: accepted
        self.finished = False  # http: the body ended
        self.closed = False  # websocket: closed by the app, or denied
        self.done = False  # the app returned: a task it left behind gets nothing more
        self.task = None
        if self.websocket:
            self.inbox.append(({"type": "websocket.connect"}, 0))

    def wake(self):
        if not self.waiters:
            return
        waiters, self.waiters = self.waiters, []
        for waiter in waiters:
            if not waiter.done():
                waiter.set_result(None)

    async def _wait(self):
        waiter = self.server.loop.create_future()
        self.waiters.append(waiter)
        await waiter

    async def receive(self):
        while not self.inbox or self.done:
            if self.done:
                return {"type": "websocket.disconnect", "code": 1006} if self.websocket else {"type": "http.disconnect"}
            if not self.websocket and (self.disconnected or self.finished):
                # As uvicorn: once the client left or the response is complete, the request is over.
                return {"type": "http.disconnect"}
            await self._wait()
        message, taken = self.inbox.pop(0)
        if taken:
            # The host sends more of the body, or more messages, as the app takes them.
            self.server.send(TAKEN, 0, self.id, protocol.encode_u32(taken))
        return message

    async def send(self, message):
        kind = message.get("type") if isinstance(message, dict) else None
        if self.done:
            raise AppError(f"{kind!r} was sent after the app returned (by a task it left running)")
        if self.websocket:
            await self._send_websocket(kind, message)
        else:
            await self._send_http(kind, message)

    async def _send_http(self, kind, message):
        if kind == "http.response.body":
            if not self.started:
                raise AppError("http.response.body was sent before http.response.start (ASGI HTTP spec)")
            if self.finished:
                raise AppError("http.response.body was sent after the body ended (its last message had more_body false)")
            body = message.get("body", b"")
            if not isinstance(body, (bytes, bytearray, memoryview)):
                raise AppError(f"http.response.body's 'body' must be bytes, not {type(body).__name__} (ASGI HTTP spec)")
            more = bool(message.get("more_body", False))
            if not more:
                self.finished = True
                # A receive() waiting now hears http.disconnect, as under uvicorn.
                self.wake()
            if self.disconnected:
                # The client is gone: what the app sends is dropped, as uvicorn drops it.
                return
            if len(body) <= self.credit and len(body) <= FRAGMENT:
                self.credit -= len(body)
                self.server.send(ASGI_RESPONSE_BODY, MORE if more else 0, self.id, bytes(body))
                return
            await self._send_pieces(bytes(body), more)
        elif kind == "http.response.start":
            if self.started:
                raise AppError("http.response.start was sent twice; send it once, before the body (ASGI HTTP spec)")
            status = message.get("status")
            if type(status) is not int:
                raise AppError(f"http.response.start needs an int 'status', not {status!r} (ASGI HTTP spec)")
            self.started = True
            self.server.send(ASGI_START, 0, self.id, protocol.encode_asgi_start(status, _headers(message.get("headers", ()))))
        else:
            raise AppError(f"an HTTP app sent {kind!r}; it may send http.response.start and http.response.body (ASGI HTTP spec)")

    async def _send_pieces(self, body, more):
        view = memoryview(body)
        while view and not self.disconnected:
            await self._wait_for_credit()
            if self.disconnected:
                return
            piece, view = view[:min(FRAGMENT, self.credit)], view[min(FRAGMENT, self.credit):]
            self.credit -= len(piece)
            self.server.send(ASGI_RESPONSE_BODY, MORE if more or view else 0, self.id, bytes(piece))

    async def _wait_for_credit(self):
        while self.credit <= 0 and not self.disconnected:
            await self._wait()
            if self.done:
                raise AppError("a message was sent after the app returned (by a task it left running)")

    async def _send_websocket(self, kind, message):
        if kind == "websocket.send":
            if not self.started or self.closed:
                raise AppError("websocket.send on a WebSocket that is not open: send websocket.accept first, and nothing "
                               "after websocket.close (ASGI WebSocket spec)")
            if self.disconnected:
                raise AppError("websocket.send after the client disconnected (ASGI WebSocket spec)")
            text, data = message.get("text"), message.get("bytes")
            if text is not None:
                if type(text) is not str:
                    raise AppError(f"websocket.send's 'text' must be str, not {type(text).__name__} (ASGI WebSocket spec)")
                payload, flags = text.encode("utf-8"), TEXT
            elif isinstance(data, (bytes, bytearray)):
                payload, flags = bytes(data), 0
            else:
                raise AppError("websocket.send needs 'text' (str) or 'bytes' (bytes) (ASGI WebSocket spec)")
            if len(payload) > MAX_PAYLOAD:
                raise AppError(f"a WebSocket message of {len(payload)} bytes; GatewayBridge sends at most {MAX_PAYLOAD} "
                               "bytes in one message (as it takes from clients)")
            await self._wait_for_credit()
            self.credit -= len(payload)
            self.server.send(WS_SEND, flags, self.id, payload)
        elif kind == "websocket.accept":
            if self.started or self.closed:
                raise AppError("websocket.accept was sent twice, or after websocket.close (ASGI WebSocket spec)")
            self.started = True
            self.server.send(WS_ACCEPT, 0, self.id, protocol.encode_ws_accept(message.get("subprotocol"), _headers(message.get("headers", ()))))
        elif kind == "websocket.close":
            if self.closed:
                raise AppError("websocket.close was sent twice (ASGI WebSocket spec)")
            code = message.get("code", 1000)
            if type(code) is not int or not (code in CLOSE_CODES or 3000 <= code < 5000):
                raise AppError(f"websocket.close's 'code' must be an int that RFC 6455 lets an endpoint send (1000-1003, "
                               f"1007-1014 or 3000-4999), not {code!r}")
            reason = (message.get("reason") or "").encode("utf-8")
            if len(reason) > 123:
                raise AppError(f"websocket.close's 'reason' is {len(reason)} bytes in UTF-8; RFC 6455 allows 123")
            self.closed = True
            self.server.send(WS_CLOSE, 0, self.id, protocol.encode_close(code, reason.decode("utf-8")))
        else:
            raise AppError(f"a WebSocket app sent {kind!r}; it may send websocket.accept, websocket.send and websocket.close "
                           "(ASGI WebSocket spec)")

    async def run(self):
        server = self.server
        try:
            await server.app(self.scope, self.receive, self.send)
            if self.websocket and not self.started and not self.closed and not self.disconnected:
                raise AppError("the app returned without websocket.accept or websocket.close (ASGI WebSocket spec)")
            if not self.websocket and not self.disconnected:
                if not self.started:
                    raise AppError("the app returned without sending http.response.start (ASGI HTTP spec)")
                if not self.finished:
                    raise AppError("the app returned before its body ended (its last http.response.body had more_body true)")
        except BaseException as error:
            if isinstance(error, AppError):
                message = f"{error}; app {server.spec}"
            elif isinstance(error, asyncio.CancelledError):
                message = "cancelled: the server was stopping, and the request outlived half of GracefulTimeout"
            else:
                message = str(error)
            detail = "".join(traceback.format_exception(type(error), error, error.__traceback__))
            server.send(ERROR, 0, self.id, protocol.encode_error(type(error).__name__, message, detail))
            if isinstance(error, (KeyboardInterrupt, SystemExit)):
                raise
        finally:
            self.done = True
            self.wake()
            server.send(DONE_APP, 0, self.id)
            server.calls.end(self.id)


def _headers(headers):
    """The app's headers as (name, value) byte pairs, checked: what the frame's NUL-separated block can carry."""
    pairs = []
    try:
        for name, value in headers:
            if not isinstance(name, (bytes, bytearray)) or not isinstance(value, (bytes, bytearray)):
                raise AppError(f"a header must be a pair of bytes, not ({name!r}, {value!r}) (ASGI HTTP spec)")
            if b"\0" in name or b"\0" in value:
                raise AppError(f"the header {bytes(name)!r} has a NUL byte")
            pairs.append((name, value))
    except (TypeError, ValueError):
        raise AppError(f"'headers' must be an iterable of [name, value] byte pairs, not {headers!r} (ASGI HTTP spec)") from None
    return pairs


def _scope(payload, websocket, state):
    """The scope uvicorn gives for the same request bytes, from the fields the host sends (protocol.SCOPE_FIELDS)."""
    fields, headers = protocol.decode_scope(payload)
    (method, scheme, http_version, root_path, raw_path, rest, query, client_host, client_port, server_host, server_port,
     subprotocols) = fields
    # The path as uvicorn decodes it: the raw path after the mount point, percent-decoded as UTF-8; the mount point
    # itself is "/", as a proxy that strips the prefix sends it.
    path = (unquote(rest) if "%" in rest else rest) or "/"
    scope = {
        "type": "websocket" if websocket else "http",
        "asgi": {"version": ASGI_VERSION, "spec_version": ASGI_SPEC_VERSION},
        "http_version": http_version,
        "scheme": scheme,
        "path": path,
        "raw_path": raw_path.encode("latin-1"),
        "query_string": query.encode("latin-1"),
        "root_path": root_path.encode("latin-1").decode("utf-8", "replace"),
        "headers": headers,
        "client": (client_host, int(client_port)) if client_host else None,
        "server": (server_host, int(server_port)) if server_host else None,
    }
    if websocket:
        scope["subprotocols"] = [s.strip() for s in subprotocols.split(",") if s.strip()]
    else:
        scope["method"] = method
    if state is not None:
        # Each request gets its own shallow copy of what the lifespan startup stored (as uvicorn 0.21 and later do).
        scope["state"] = state.copy()
    return scope


class Lifespan:
    """ASGI's lifespan protocol as uvicorn's "auto" mode runs it: an app that does not support it is served all the
    same; a failed startup stops everything, with the app's message."""

    def __init__(self, app, loop):
        self.app = app
        self.state = {}
        self.supported = True
        self.loop = loop
        self.events = asyncio.Queue()
        self.answers = asyncio.Queue()
        self.task = None
        self.answered = False

    async def startup(self):
        """None when the app started (or has no lifespan), else the failure's message."""
        scope = {"type": "lifespan", "asgi": {"version": ASGI_VERSION, "spec_version": ASGI_SPEC_VERSION}, "state": self.state}
        self.task = self.loop.create_task(self._run(scope))
        await self.events.put({"type": "lifespan.startup"})
        answer = await self.answers.get()
        if answer is None or answer.get("type") == "lifespan.startup.complete":
            return None
        if answer.get("type") == "lifespan.startup.failed":
            return answer.get("message") or "the app sent lifespan.startup.failed"
        return f"the app answered lifespan.startup with {answer!r}"

    async def shutdown(self, timeout):
        if not self.supported or self.task is None or self.task.done():
            return
        await self.events.put({"type": "lifespan.shutdown"})
        try:
            await asyncio.wait_for(self.answers.get(), timeout)
        except asyncio.TimeoutError:
            pass

    async def _send(self, message):
        self.answered = True
        await self.answers.put(message)

    async def _run(self, scope):
        try:
            await self.app(scope, self.events.get, self._send)
            if not self.answered:
                # Returned without a word (an app that ignores scopes it does not know): served, as uvicorn serves it.
                self.supported = False
        except BaseException as error:
            if not self.answered:
                # An app without lifespan support raises on the scope type: served all the same, as uvicorn's "auto"
                # mode serves it (and says why, for an app that meant to support it).
                self.supported = False
                _log.info("ASGI 'lifespan' unsupported by the app: %s: %s", type(error).__name__, error)
            else:
                _log.error("The app's ASGI lifespan failed", exc_info=error)
        # Whoever waits for an answer (the startup, the shutdown) gets one once the app's lifespan is over.
        await self.answers.put(None)


def new_loop():
    """uvloop when it is installed, as uvicorn picks it; asyncio's own loop otherwise."""
    try:
        import uvloop
    except ImportError:
        return asyncio.new_event_loop()
    return uvloop.new_event_loop()


def run_embedded(fd, app, spec, grace):
    """Serves `app` on this thread of the host's own interpreter, over its end (`fd`) of a socket pair."""
    import socket

    return run(socket.socket(fileno=fd), app, spec, grace)


def run(sock, app, spec, grace, started=None):
    """Serves `app` over the connected socket `sock` until the host says STOP or goes; returns False when the lifespan
    startup failed (the host has its message), True otherwise. `grace` is the host's GracefulTimeout in seconds: what the host still holds at
    STOP and the lifespan shutdown both end within it. `started(loop, server)` runs once the loop does (a worker adds
    its signal handling and memory check there)."""
    loop = new_loop()
    asyncio.set_event_loop(loop)
    try:
        return loop.run_until_complete(_serve(sock, app, spec, grace, started))
    finally:
        loop.close()
        asyncio.set_event_loop(None)


async def _serve(sock, app, spec, grace, started):
    loop = asyncio.get_running_loop()
    stopped = loop.create_future()

    def on_stopped():
        if not stopped.done():
            stopped.set_result(None)

    server = Server(app, spec, on_stopped)
    await loop.create_unix_connection(lambda: server, sock=sock)
    if started is not None:
        started(loop, server)

    lifespan = Lifespan(app, loop)
    starting = loop.create_task(lifespan.startup())
    await asyncio.wait([starting, stopped], return_when=asyncio.FIRST_COMPLETED)
    if not starting.done():
        # The host went while the app started: nobody to serve.
        starting.cancel()
        return True
    failure = starting.result()
    if failure is not None:
        server.send(FAILED, 0, 0, protocol.encode_text(f"ASGI lifespan startup failed: {failure}"))
        server.flush()
        server.transport.close()
        return False
    server.state = lifespan.state if lifespan.supported else None
    server.send(READY, 0, 0, protocol.encode_json(protocol.ready_info()))

    await stopped
    tasks = [call.task for call in server.calls.live.values()]
    if tasks:
        # What the host still holds is answered first (it sends no new requests after STOP); a request that outlives
        # half the grace (a WebSocket, a stream) is cancelled, so the lifespan shutdown runs before the host's deadline.
        _, pending = await asyncio.wait(tasks, timeout=grace / 2)
        for task in pending:
            task.cancel()
        if pending:
            await asyncio.wait(pending, timeout=1)
    await lifespan.shutdown(grace / 3)
    server.flush()
    server.transport.close()
    if server.failure is not None:
        raise server.failure
    return True
