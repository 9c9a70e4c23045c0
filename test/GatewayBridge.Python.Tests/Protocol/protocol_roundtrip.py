"""The Python side of the protocol tests (ProtocolRoundTripTests.cs): frames on stdin, each decoded with protocol.py's
decode_* for its type and encoded again with its encode_*; one JSON line per frame on stdout, with the fields as
decoded and the payload as re-encoded. With the argument "constants", the protocol's constants instead.

Run with the shim's folder first on sys.path (argv[1])."""

import json
import sys

sys.path.insert(0, sys.argv[1])

from gatewaybridge import protocol as p  # noqa: E402

NAMES = {name: getattr(p, name) for name in dir(p) if name.isupper() and isinstance(getattr(p, name), int)}
TYPES = sorted(p.FROM_SERVER | p.FROM_HOST)


def text(data):
    return bytes(data).decode("latin-1")


def pairs(headers):
    return [[text(n), text(v)] for n, v in headers]


def roundtrip(kind, flags, payload):
    """(fields, the payload encoded again)."""
    if kind == p.HELLO:
        version, secret, module = p.decode_hello(payload)
        assert version == p.VERSION
        return {"version": version, "secret": text(secret), "module": module}, p.encode_hello(secret, module)
    if kind in (p.READY, p.CONFIG, p.FORKED, p.EXITED, p.FORK):
        value = p.decode_json(payload)
        return {"json": value}, p.encode_json(value)
    if kind in (p.FAILED, p.CLOSE_FAILED):
        value = p.decode_text(payload)
        return {"text": value}, p.encode_text(value)
    if kind == p.RESPONSE:
        head, total, body = p.decode_response(flags, payload)
        return {"head": head, "total": total, "body": text(body)}, b"".join(p.encode_response(flags, head, total, bytes(body)))
    if kind == p.FILE:
        head, offset, count, path = p.decode_file(flags, payload)
        return {"head": head, "offset": offset, "count": count, "path": path}, b"".join(p.encode_file(flags, head, offset, count, path))
    if kind == p.ERROR:
        fields = p.decode_error(payload)
        return {"type": fields[0], "message": fields[1], "traceback": fields[2]}, p.encode_error(*fields)
    if kind == p.LOG:
        log_kind, level, name, message, detail = p.decode_log(payload)
        again = p.encode_log_line(message) if log_kind == p.LOG_LINE else p.encode_log_record(name, level, message, detail)
        return {"kind": log_kind, "level": level, "name": name, "message": message, "detail": detail}, again
    if kind == p.STARTED:
        nanoseconds = p.decode_started(payload)
        return {"nanoseconds": nanoseconds}, p.encode_started(nanoseconds)
    if kind in (p.TAKEN, p.CREDIT):
        count = p.decode_u32(payload)
        return {"count": count}, p.encode_u32(count)
    if kind == p.REQUEST:
        environ, body_kind, body = p.decode_request(payload)
        shown = body if body_kind == p.FILE_BODY else (text(body) if body is not None else None)
        raw = body if body_kind == p.FILE_BODY else (bytes(body) if body is not None else None)
        return {"environ": environ, "body_kind": body_kind, "body": shown}, p.encode_request(environ, body_kind, raw)
    if kind in (p.ASGI_HTTP, p.WS_CONNECT):
        fields, headers = p.decode_scope(payload)
        return {"fields": fields, "headers": pairs(headers)}, p.encode_scope(fields, headers)
    if kind in (p.ASGI_BODY, p.ASGI_RESPONSE_BODY, p.WS_MESSAGE, p.WS_SEND):
        return {"data": text(payload)}, bytes(payload)
    if kind in (p.WS_DISCONNECT, p.WS_CLOSE):
        code, reason = p.decode_close(payload)
        return {"code": code, "reason": reason}, p.encode_close(code, reason) if kind == p.WS_CLOSE else p.encode_close(code)
    if kind == p.ASGI_START:
        status, headers = p.decode_asgi_start(payload)
        return {"status": status, "headers": pairs(headers)}, p.encode_asgi_start(status, headers)
    if kind == p.WS_ACCEPT:
        subprotocol, headers = p.decode_ws_accept(payload)
        return {"subprotocol": subprotocol, "headers": pairs(headers)}, p.encode_ws_accept(subprotocol, headers)
    if kind in (p.RETIRE, p.GOODBYE, p.DONE_APP, p.CANCEL, p.DONE, p.STOP, p.ASGI_DISCONNECT):
        assert not payload, "an empty frame with a payload"
        return {}, b""
    raise AssertionError(f"no round trip for type {kind}")


def main():
    if sys.argv[2:] == ["constants"]:
        print(json.dumps({**NAMES, "TYPES": TYPES}))
        return
    frames = p.FrameBuffer(p.FROM_SERVER | p.FROM_HOST).feed(sys.stdin.buffer.read())
    for kind, flags, call_id, payload in frames:
        fields, again = roundtrip(kind, flags, payload)
        print(json.dumps({"type": kind, "flags": flags, "id": call_id, "fields": fields, "payload": again.hex()}))


main()
