"""GatewayBridge's ASGI server core: serves one ASGI 3 app (Starlette, FastAPI, Django's ASGI handler) on an asyncio
loop, for the .NET host at the other end of a socket (loaded by GatewayBridge.Python; apps never import it). It
runs in a worker process, or on a thread of the host's own interpreter over a socket pair: the same frames either
way (gatewaybridge_frames' header). The host owns HTTP and WebSockets (Kestrel); this module owns the ASGI
protocol: the scope, receive() and send() with their rules, the lifespan, and backpressure both ways.

Host to server: HTTP and WS_CONNECT (the scope; HTTP's flag EMPTY: the request has no body), BODY (a piece of the
request body; flag MORE), DISCONNECT (the client left), WS_MESSAGE (flag TEXT), WS_DISCONNECT (u16 code), CREDIT
(u32: response bytes the host has sent on), STOP. Server to host: START (u16 status, the headers), RESPONSE_BODY
(flag MORE), WS_ACCEPT (u32 length and the subprotocol, the headers), WS_SEND (flag TEXT), WS_CLOSE (u16 code,
the reason), ERROR (type, message, traceback), DONE_APP (the app returned), TAKEN (u32: request bytes the app has
read), LOG, READY, FAILED (the lifespan startup failed), RETIRE, GOODBYE.

One module of more than 400 lines on purpose: the frame loop, a request's receive() and send() with their rules,
and the lifespan are one protocol over one connection, loaded as one file into a worker or the host's
interpreter.
"""

import asyncio
import json
import os
import signal
import struct
import sys
import threading
import traceback
from urllib.parse import unquote

import gatewaybridge_wsgi as shim
from gatewaybridge_frames import (CREDIT, DONE_APP, ERROR, FAILED, FRAGMENT, GOODBYE, HEADER, LOG, LOG_HEAD, READY, RETIRE,
                                  STOP, TAKEN, U32, WINDOW)

HTTP, BODY, DISCONNECT, WS_CONNECT, WS_MESSAGE, WS_DISCONNECT = range(30, 36)
START, RESPONSE_BODY, WS_ACCEPT, WS_SEND, WS_CLOSE = range(40, 45)
MORE = TEXT = 1
EMPTY = 2
U16 = struct.Struct("<H")
ASGI_VERSION = "3.0"
ASGI_SPEC_VERSION = "2.3"
# What the host takes in one frame (WorkerFrames.MaxPayload): a longer WebSocket message is the app's error, and
# a traceback is cut to fit.
MAX_PAYLOAD = 16 * 1024 * 1024
MAX_DETAIL = 1024 * 1024
# RFC 6455's codes an endpoint may send, as the websockets library checks them.
CLOSE_CODES = frozenset((1000, 1001, 1002, 1003, 1007, 1008, 1009, 1010, 1011, 1012, 1013, 1014))


class AppError(Exception):
    """A rule of the ASGI spec the app broke: its message names the rule."""


class Server(asyncio.Protocol):
    """Frames in, app calls out, on one loop; every request is a task. What the tasks send in one turn of the loop
    goes to the host in one write."""

    def __init__(self, app, spec, on_stopped):
        self.app = app
        self.spec = spec
        self.state = None
        self.calls = {}
        self.transport = None
        self.buffer = bytearray()
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
        buffer = self.buffer
        buffer += data
        position, size = 0, len(buffer)
        while size - position >= 10:
            length, kind, flags, request_id = HEADER.unpack_from(buffer, position)
            end = position + 10 + length
            if end > size:
                break
            self.on_frame(kind, flags, request_id, bytes(buffer[position + 10:end]))
            position = end
        del buffer[:position]

    def send(self, kind, flags, request_id, payload=b""):
        self.out.append(HEADER.pack(len(payload), kind, flags, request_id))
        if payload:
            self.out.append(payload)
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
        if kind == HTTP or kind == WS_CONNECT:
            call = Call(self, request_id, _scope(payload, kind == WS_CONNECT, self.state))
            if flags & EMPTY:
                # A dict of its own: an app (or a middleware) may change the messages it receives.
                call.inbox.append(({"type": "http.request", "body": b"", "more_body": False}, 0))
            self.calls[request_id] = call
            call.task = self.loop.create_task(call.run())
            return
        if kind == STOP:
            self.on_stopped()
            return
        call = self.calls.get(request_id)
        if call is None:
            # The app returned before the host's frame for it arrived.
            return
        if kind == CREDIT:
            call.credit += U32.unpack(payload)[0]
        elif kind == BODY:
            call.inbox.append(({"type": "http.request", "body": payload, "more_body": bool(flags & MORE)}, len(payload)))
        elif kind == DISCONNECT:
            call.disconnected = True
        elif kind == WS_MESSAGE:
            if flags & TEXT:
                call.inbox.append(({"type": "websocket.receive", "text": payload.decode("utf-8")}, len(payload)))
            else:
                call.inbox.append(({"type": "websocket.receive", "bytes": payload}, len(payload)))
        elif kind == WS_DISCONNECT:
            call.disconnected = True
            call.inbox.append(({"type": "websocket.disconnect", "code": U16.unpack(payload)[0]}, 0))
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
            self.server.send(TAKEN, 0, self.id, U32.pack(taken))
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
                self.server.send(RESPONSE_BODY, MORE if more else 0, self.id, bytes(body))
                return
            await self._send_pieces(bytes(body), more)
        elif kind == "http.response.start":
            if self.started:
                raise AppError("http.response.start was sent twice; send it once, before the body (ASGI HTTP spec)")
            status = message.get("status")
            if type(status) is not int:
                raise AppError(f"http.response.start needs an int 'status', not {status!r} (ASGI HTTP spec)")
            self.started = True
            self.server.send(START, 0, self.id, U16.pack(status) + _headers(message.get("headers", ())))
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
            self.server.send(RESPONSE_BODY, MORE if more or view else 0, self.id, bytes(piece))

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
            subprotocol = (message.get("subprotocol") or "").encode()
            self.server.send(WS_ACCEPT, 0, self.id, U32.pack(len(subprotocol)) + subprotocol + _headers(message.get("headers", ())))
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
            self.server.send(WS_CLOSE, 0, self.id, U16.pack(code) + reason)
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
            server.send(ERROR, 0, self.id, "\0".join((type(error).__name__, message[:MAX_DETAIL], detail[-MAX_DETAIL:]))
                        .encode("utf-8", "backslashreplace"))
            if isinstance(error, (KeyboardInterrupt, SystemExit)):
                raise
        finally:
            self.done = True
            self.wake()
            server.send(DONE_APP, 0, self.id)
            server.calls.pop(self.id, None)


def _headers(headers):
    parts = []
    try:
        for name, value in headers:
            if not isinstance(name, (bytes, bytearray)) or not isinstance(value, (bytes, bytearray)):
                raise AppError(f"a header must be a pair of bytes, not ({name!r}, {value!r}) (ASGI HTTP spec)")
            if b"\0" in name or b"\0" in value:
                raise AppError(f"the header {bytes(name)!r} has a NUL byte")
            parts.append(b"\0" + name + b"\0" + value)
    except (TypeError, ValueError):
        raise AppError(f"'headers' must be an iterable of [name, value] byte pairs, not {headers!r} (ASGI HTTP spec)") from None
    return b"".join(parts)


def _scope(payload, websocket, state):
    """The scope uvicorn gives for the same request bytes; the host sends its fields NUL-separated, latin-1."""
    fields = str(payload, "latin-1").split("\0")
    (method, scheme, http_version, root_path, raw_path, rest, query, client_host, client_port, server_host, server_port,
     subprotocols) = fields[:12]
    headers = [(fields[i].encode("latin-1"), fields[i + 1].encode("latin-1")) for i in range(12, len(fields) - 1, 2)]
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
                shim._log("gatewaybridge.asgi", 20, f"ASGI 'lifespan' unsupported by the app: {type(error).__name__}: {error}", None)
            else:
                shim._log("gatewaybridge.asgi", 40, "The app's ASGI lifespan failed",
                          "".join(traceback.format_exception(type(error), error, error.__traceback__)))
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

    return run(socket.socket(fileno=fd), app, spec, grace, embedded=True)


def run(sock, app, spec, grace, embedded=False, max_memory=None):
    """Serves `app` over the connected socket `sock` until the host says STOP or goes; returns the exit status (3 when
    the lifespan startup failed). `grace` is the host's GracefulTimeout in seconds: what the host still holds at STOP
    and the lifespan shutdown both end within it."""
    loop = new_loop()
    asyncio.set_event_loop(loop)
    try:
        return loop.run_until_complete(_serve(sock, app, spec, grace, embedded, max_memory))
    finally:
        loop.close()
        asyncio.set_event_loop(None)


async def _serve(sock, app, spec, grace, embedded, max_memory):
    loop = asyncio.get_running_loop()
    stopped = loop.create_future()

    def on_stopped():
        if not stopped.done():
            stopped.set_result(None)

    server = Server(app, spec, on_stopped)
    await loop.create_unix_connection(lambda: server, sock=sock)
    loop_thread = threading.get_ident()

    def send_frame(frame):
        if threading.get_ident() == loop_thread:
            server._send_frame(frame)
        else:
            server.send_threadsafe(frame)

    def log(name, level, message, detail):
        body = "\0".join((name, message[:MAX_DETAIL], (detail or "")[-MAX_DETAIL:])).encode("utf-8", "backslashreplace")
        send_frame(HEADER.pack(LOG_HEAD.size + len(body), LOG, 0, 0) + LOG_HEAD.pack(0, level) + body)

    def errors_line(line):
        body = line[:MAX_DETAIL].encode("utf-8", "backslashreplace")
        send_frame(HEADER.pack(LOG_HEAD.size + len(body), LOG, 0, 0) + LOG_HEAD.pack(1, 30) + body)

    if not embedded:
        # In the host's own interpreter, records go to the host's logging directly, as they do from WSGI apps.
        shim._log, shim._errors_line = log, errors_line
        # SIGTERM: the host sends nothing new, and says STOP once what this worker holds is answered.
        loop.add_signal_handler(signal.SIGTERM, lambda: server.send(GOODBYE, 0, 0))
    if max_memory:
        _watch_memory(loop, server, max_memory)

    lifespan = Lifespan(app, loop)
    starting = loop.create_task(lifespan.startup())
    await asyncio.wait([starting, stopped], return_when=asyncio.FIRST_COMPLETED)
    if not starting.done():
        # The host went while the app started: nobody to serve.
        starting.cancel()
        return 0
    failure = starting.result()
    if failure is not None:
        server.send(FAILED, 0, 0, f"ASGI lifespan startup failed: {failure}".encode("utf-8", "backslashreplace"))
        server.flush()
        server.transport.close()
        return 3
    server.state = lifespan.state if lifespan.supported else None
    info = {"pid": os.getpid(), "python": sys.version.split()[0], "executable": sys.executable}
    server.send(READY, 0, 0, json.dumps(info).encode())

    await stopped
    tasks = [call.task for call in server.calls.values()]
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
    return 0


def _watch_memory(loop, server, max_memory):
    page = os.sysconf("SC_PAGE_SIZE")

    def check():
        with open("/proc/self/statm", "rb") as statm:
            resident = int(statm.read().split()[1]) * page
        if resident > max_memory:
            server.send(RETIRE, 0, 0)
        else:
            loop.call_later(1.0, check)

    loop.call_later(1.0, check)
