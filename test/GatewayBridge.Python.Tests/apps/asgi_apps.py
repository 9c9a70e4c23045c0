"""Bare ASGI 3 apps for GatewayBridge's ASGI tests: one router (each path one behaviour) and a few apps of their own.

One module of more than 400 lines on purpose: every test names its app as asgi_apps:name (or a path of the
router), and the apps share the helpers below.
"""

import asyncio
import json
import os

STATE_FILE = os.environ.get("GATEWAYBRIDGE_TEST_ASGI_FILE")


async def _text(send, status, text, headers=()):
    body = text.encode()
    await send({"type": "http.response.start", "status": status,
                "headers": [(b"content-type", b"text/plain"), (b"content-length", str(len(body)).encode()), *headers]})
    await send({"type": "http.response.body", "body": body})


def _jsonable(value):
    if isinstance(value, bytes):
        return {"bytes": value.decode("latin-1")}
    if isinstance(value, (list, tuple)):
        return [_jsonable(v) for v in value]
    if isinstance(value, dict):
        return {k: _jsonable(v) for k, v in value.items()}
    return value


async def dump(scope, receive, send):
    """The scope, as JSON (bytes as {"bytes": latin-1}), for the differential tests against uvicorn."""
    if scope["type"] == "lifespan":
        await _lifespan(receive, send, {})
        return
    if scope["type"] == "websocket":
        await receive()
        await send({"type": "websocket.accept"})
        await send({"type": "websocket.send", "text": json.dumps(_jsonable(scope))})
        await send({"type": "websocket.close"})
        return
    await _text(send, 200, json.dumps(_jsonable(scope)))


async def _lifespan(receive, send, state):
    while True:
        message = await receive()
        if message["type"] == "lifespan.startup":
            await send({"type": "lifespan.startup.complete"})
        elif message["type"] == "lifespan.shutdown":
            await send({"type": "lifespan.shutdown.complete"})
            return


started = []


async def router(scope, receive, send):
    kind = scope["type"]
    if kind == "lifespan":
        while True:
            message = await receive()
            if message["type"] == "lifespan.startup":
                started.append(os.getpid())
                scope["state"]["greeting"] = "hello from startup"
                await send({"type": "lifespan.startup.complete"})
            elif message["type"] == "lifespan.shutdown":
                if STATE_FILE:
                    with open(STATE_FILE, "a") as file:
                        file.write(f"shutdown {os.getpid()}\n")
                await send({"type": "lifespan.shutdown.complete"})
                return
    if kind == "websocket":
        await _websocket(scope, receive, send)
        return
    path = scope["path"]
    handler = ROUTES.get(path)
    if handler is None:
        await _text(send, 404, f"no route {path}")
        return
    await handler(scope, receive, send)


async def _hello(scope, receive, send):
    await _text(send, 200, "Hello, ASGI!")


async def _pid(scope, receive, send):
    await _text(send, 200, str(os.getpid()))


async def _state(scope, receive, send):
    state = scope.get("state")
    if state is not None:
        # Each request gets its own copy: a change here must not show in the next request.
        previous = state.get("touched")
        state["touched"] = True
    else:
        previous = None
    await _text(send, 200, json.dumps({"greeting": (state or {}).get("greeting"), "touched_before": previous}))


async def _echo(scope, receive, send):
    """Reads the body message by message; answers its length, the number of messages and a checksum."""
    total, messages, checksum = 0, 0, 0
    while True:
        message = await receive()
        if message["type"] == "http.disconnect":
            return
        body = message.get("body", b"")
        total += len(body)
        messages += 1
        checksum = (checksum + sum(body)) % 1000003
        if not message.get("more_body"):
            break
    await _text(send, 200, json.dumps({"length": total, "messages": messages, "checksum": checksum}))


async def _slow_echo(scope, receive, send):
    """Reads a message every 20 ms: the client's upload waits for it."""
    total = 0
    while True:
        message = await receive()
        await asyncio.sleep(0.02)
        total += len(message.get("body", b""))
        if not message.get("more_body"):
            break
    await _text(send, 200, str(total))


async def _never_reads(scope, receive, send):
    await _text(send, 200, "did not read it")


async def _stream(scope, receive, send):
    """?n chunks of ?size bytes, without a Content-Length."""
    query = dict(p.split("=") for p in scope["query_string"].decode().split("&") if p)
    count, size = int(query.get("n", "3")), int(query.get("size", "5"))
    await send({"type": "http.response.start", "status": 200, "headers": [(b"content-type", b"application/octet-stream")]})
    for i in range(count):
        await send({"type": "http.response.body", "body": bytes([65 + i % 26]) * size, "more_body": True})
    await send({"type": "http.response.body", "body": b"", "more_body": False})


def _query(scope):
    return dict(p.split("=", 1) for p in scope["query_string"].decode().split("&") if p)


async def _long_poll(scope, receive, send):
    """Waits for the client to go, then writes "disconnected" to ?path."""
    message = await receive()
    while message["type"] != "http.disconnect":
        message = await receive()
    with open(_query(scope)["path"], "w") as file:
        file.write("disconnected")


async def _held(scope, receive, send):
    """Answers after ?ms milliseconds: many of these at once share one loop."""
    query = dict(p.split("=") for p in scope["query_string"].decode().split("&") if p)
    await asyncio.sleep(int(query.get("ms", "100")) / 1000)
    await _text(send, 200, "held")


async def _ticks(scope, receive, send):
    """Starts its response, then a tick every 50 ms for 10 s: only a timeout or the client ends it early."""
    await send({"type": "http.response.start", "status": 200, "headers": [(b"content-type", b"text/plain")]})
    for _ in range(200):
        await send({"type": "http.response.body", "body": b"tick;", "more_body": True})
        await asyncio.sleep(0.05)
    await send({"type": "http.response.body", "body": b"", "more_body": False})


async def _status(scope, receive, send):
    query = dict(p.split("=") for p in scope["query_string"].decode().split("&") if p)
    status = int(query["code"])
    await send({"type": "http.response.start", "status": status, "headers": [(b"content-length", b"5")]})
    await send({"type": "http.response.body", "body": b"12345"})


async def _headers(scope, receive, send):
    await send({"type": "http.response.start", "status": 201,
                "headers": [(b"x-one", b"1"), (b"set-cookie", b"a=1"), (b"set-cookie", b"b=2")]})
    await send({"type": "http.response.body", "body": b"made"})


async def _body_before_start(scope, receive, send):
    await send({"type": "http.response.body", "body": b"oops"})


async def _start_twice(scope, receive, send):
    await send({"type": "http.response.start", "status": 200, "headers": []})
    await send({"type": "http.response.start", "status": 200, "headers": []})


async def _no_response(scope, receive, send):
    return None


async def _raise_before_start(scope, receive, send):
    raise ValueError("the app failed before it answered")


async def _raise_after_start(scope, receive, send):
    await send({"type": "http.response.start", "status": 200, "headers": []})
    await send({"type": "http.response.body", "body": b"partial", "more_body": True})
    raise ValueError("the app failed in the middle of its body")


async def _str_body(scope, receive, send):
    await send({"type": "http.response.start", "status": 200, "headers": []})
    await send({"type": "http.response.body", "body": "text, not bytes"})


async def _str_header(scope, receive, send):
    await send({"type": "http.response.start", "status": 200, "headers": [("content-type", "text/plain")]})
    await send({"type": "http.response.body", "body": b"x"})


async def _bad_header(scope, receive, send):
    await send({"type": "http.response.start", "status": 200, "headers": [(b"x-bad", b"a\r\nx-injected: 1")]})
    await send({"type": "http.response.body", "body": b"x"})


async def _unfinished(scope, receive, send):
    await send({"type": "http.response.start", "status": 200, "headers": []})
    await send({"type": "http.response.body", "body": b"partial", "more_body": True})


async def _big(scope, receive, send):
    """?mb megabytes in 1 MB sends: the app runs at most a window ahead of the client."""
    query = dict(p.split("=") for p in scope["query_string"].decode().split("&") if p)
    megabytes = int(query.get("mb", "8"))
    await send({"type": "http.response.start", "status": 200, "headers": [(b"content-length", str(megabytes << 20).encode())]})
    chunk = b"x" * (1 << 20)
    for i in range(megabytes):
        await send({"type": "http.response.body", "body": chunk, "more_body": i < megabytes - 1})


async def _mutates_its_message(scope, receive, send):
    """Answers the body it received, then changes the message: no later request may see the change."""
    message = await receive()
    body = message["body"]
    message["body"] = b"changed by an earlier request"
    await _text(send, 200, repr(body))


heard = {}


async def _watches_for_disconnect(scope, receive, send):
    """Streams ?kb kilobytes (in one message with ?whole=1) while a task watches receive() for http.disconnect (as
    Starlette's StreamingResponse does), then records what the watcher heard under ?key."""
    query = _query(scope)

    listening = asyncio.Event()

    async def watch():
        while True:
            message = await receive()
            # The body is taken: the next receive() waits, before the app goes on.
            listening.set()
            if message["type"] == "http.disconnect":
                return message["type"]

    watcher = asyncio.get_running_loop().create_task(watch())
    await listening.wait()
    await send({"type": "http.response.start", "status": 200, "headers": []})
    body = b"x" * (int(query["kb"]) << 10)
    if query.get("whole"):
        await send({"type": "http.response.body", "body": body})
    else:
        await send({"type": "http.response.body", "body": body, "more_body": True})
        await send({"type": "http.response.body", "body": b"", "more_body": False})
    try:
        heard[query["key"]] = await asyncio.wait_for(watcher, 10)
    except asyncio.TimeoutError:
        heard[query["key"]] = "nothing within 10 s"


async def _heard(scope, receive, send):
    await _text(send, 200, heard.get(_query(scope)["key"], "not yet"))


left_behind = {}


async def _leaves_a_reader(scope, receive, send):
    """Answers its pid at once, leaving a task that reads the body later (fire and forget), which records what it
    got under ?key."""

    app = asyncio.current_task()

    async def later():
        # Once the app has returned (the task that ran it is done), the request is over for it.
        await asyncio.wait([app])
        left_behind[key] = (await receive())["type"]
        try:
            await send({"type": "http.response.body", "body": b"late"})
        except Exception as error:
            left_behind[key] += f"; send: {error}"

    key = _query(scope)["key"]
    left_behind[key] = asyncio.get_running_loop().create_task(later())
    await _text(send, 200, str(os.getpid()))


async def _left_behind(scope, receive, send):
    value = left_behind.get(_query(scope)["key"])
    await _text(send, 200, value if isinstance(value, str) else "not yet")


async def _raise_after_body(scope, receive, send):
    """A whole body of ?kb kilobytes, then a failure (as a background task after the response fails)."""
    await send({"type": "http.response.start", "status": 200, "headers": []})
    await send({"type": "http.response.body", "body": b"y" * (int(_query(scope)["kb"]) << 10)})
    raise ValueError("failed after its last byte")


async def _log(scope, receive, send):
    import logging

    logging.getLogger("asgi_apps").warning("a warning from the ASGI app")
    await _text(send, 200, "logged")


async def _crash(scope, receive, send):
    """Dies as a segfaulting C extension would: no Python cleanup, no answer."""
    import signal

    os.kill(os.getpid(), signal.SIGKILL)


HUGE = 20 * 1024 * 1024  # past the 16 MiB a frame holds


async def _huge_log(scope, receive, send):
    import logging

    logging.getLogger("asgi_apps").error("huge " + "m" * HUGE, stack_info=False)
    await _text(send, 200, "logged")


async def _huge_error(scope, receive, send):
    raise RuntimeError("huge " + "e" * HUGE)


async def _request_headers(scope, receive, send):
    """The request's headers as the app got them, a line each."""
    lines = b"\n".join(name + b": " + value for name, value in scope["headers"])
    await send({"type": "http.response.start", "status": 200, "headers": [(b"content-type", b"text/plain")]})
    await send({"type": "http.response.body", "body": lines})


ROUTES = {
    "/request_headers": _request_headers,
    "/hello": _hello,
    "/crash": _crash,
    "/huge_log": _huge_log,
    "/huge_error": _huge_error,
    "/pid": _pid,
    "/state": _state,
    "/echo": _echo,
    "/slow_echo": _slow_echo,
    "/never_reads": _never_reads,
    "/stream": _stream,
    "/long_poll": _long_poll,
    "/held": _held,
    "/ticks": _ticks,
    "/status": _status,
    "/headers": _headers,
    "/body_before_start": _body_before_start,
    "/start_twice": _start_twice,
    "/no_response": _no_response,
    "/raise_before_start": _raise_before_start,
    "/raise_after_start": _raise_after_start,
    "/str_body": _str_body,
    "/str_header": _str_header,
    "/bad_header": _bad_header,
    "/unfinished": _unfinished,
    "/big": _big,
    "/log": _log,
    "/mutates_its_message": _mutates_its_message,
    "/watches_for_disconnect": _watches_for_disconnect,
    "/heard": _heard,
    "/leaves_a_reader": _leaves_a_reader,
    "/left_behind": _left_behind,
    "/raise_after_body": _raise_after_body,
}


async def _websocket(scope, receive, send):
    path = scope["path"]
    message = await receive()
    assert message["type"] == "websocket.connect"
    if path == "/ws/deny":
        await send({"type": "websocket.close", "code": 1008})
        return
    if path == "/ws/raise":
        raise RuntimeError("the WebSocket app failed before accepting")
    if path == "/ws/no_accept":
        return
    subprotocol = scope["subprotocols"][0] if scope["subprotocols"] else None
    await send({"type": "websocket.accept", "subprotocol": subprotocol, "headers": [(b"x-accepted", b"yes")]})
    if path == "/ws/send_after_close":
        await send({"type": "websocket.close", "code": 1000})
        await send({"type": "websocket.send", "text": "too late"})
        return
    if path == "/ws/close":
        await send({"type": "websocket.close", "code": 4001, "reason": "app says bye"})
        return
    if path == "/ws/reserved_close":
        await send({"type": "websocket.close", "code": 1005})
        return
    if path == "/ws/huge":
        await send({"type": "websocket.send", "bytes": b"z" * (16 * 1024 * 1024 + 1)})
        return
    # /ws/echo: text back as text, bytes back as bytes, until the client closes; then records the close code.
    while True:
        message = await receive()
        if message["type"] == "websocket.disconnect":
            path = _query(scope).get("path")
            if path:
                with open(path, "w") as file:
                    file.write(f"disconnect {message['code']}")
            return
        if message.get("text") is not None:
            if message["text"] == "close please":
                await send({"type": "websocket.close", "code": 4000, "reason": "as asked"})
                continue
            await send({"type": "websocket.send", "text": "echo: " + message["text"]})
        else:
            await send({"type": "websocket.send", "bytes": message["bytes"][::-1]})


async def hello(scope, receive, send):
    """A bare hello, for the load script: no lifespan support (raises on it, as many small apps do)."""
    if scope["type"] != "http":
        raise RuntimeError(f"unsupported scope {scope['type']}")
    await send({"type": "http.response.start", "status": 200, "headers": [(b"content-type", b"text/plain"), (b"content-length", b"13")]})
    await send({"type": "http.response.body", "body": b"Hello, world!"})


async def failing_startup(scope, receive, send):
    if scope["type"] == "lifespan":
        await receive()
        await send({"type": "lifespan.startup.failed", "message": "the database is not there"})
        return
    await _text(send, 200, "never served")


def holder(path):
    """Like recorder, and /hold waits forever on an event, deaf to http.disconnect (a stream, a WebSocket)."""
    recording = recorder(path)

    async def app(scope, receive, send):
        if scope["type"] == "http" and scope["path"] == "/hold":
            await asyncio.Event().wait()
        await recording(scope, receive, send)

    return app


def recorder(path):
    """An app whose lifespan writes "startup <pid>" and "shutdown <pid>" lines to `path`."""

    async def app(scope, receive, send):
        if scope["type"] == "lifespan":
            while True:
                message = await receive()
                event = message["type"].split(".")[-1]
                with open(path, "a") as file:
                    file.write(f"{event} {os.getpid()}\n")
                await send({"type": f"lifespan.{event}.complete"})
                if event == "shutdown":
                    return
        await _text(send, 200, str(os.getpid()))

    return app
