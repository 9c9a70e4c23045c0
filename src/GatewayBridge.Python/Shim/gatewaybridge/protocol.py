"""The worker protocol, Python's side: every frame the host and a Python server exchange, and its payload's layout.

docs/worker-protocol.md is the specification; GatewayBridge.Python's Protocol/ folder is the host's side. A frame is a
10-byte header (payload length u32, type u8, flags u8, call id u32, little-endian) and a payload of at most MAX_PAYLOAD
bytes. Each frame type has an encode_* function that builds its payload and a decode_* function that reads it; both
sides can build and read every type, so a test can send the host's frames through this module and back.
"""

import json
import os
import select
import socket
import struct
import sys
import threading

VERSION = 2
HEADER = struct.Struct("<IBBI")
MAX_PAYLOAD = 16 * 1024 * 1024  # on both sides (WorkerProtocol in Protocol/FrameType.cs); a longer frame is a protocol error
WINDOW = 256 * 1024  # response bytes a call may have on their way before the host grants more
FRAGMENT = 64 * 1024  # the largest body piece in one frame

# Python server to host.
HELLO, READY, FAILED, RESPONSE, FILE, ERROR, CLOSE_FAILED, LOG, RETIRE, GOODBYE, TAKEN, DONE_APP, FORKED, EXITED, STARTED = range(1, 16)
ASGI_START, ASGI_RESPONSE_BODY, WS_ACCEPT, WS_SEND, WS_CLOSE = range(40, 45)
# Host to Python server.
CONFIG, REQUEST, CREDIT, CANCEL, DONE, STOP, FORK = range(20, 27)
ASGI_HTTP, ASGI_BODY, ASGI_DISCONNECT, WS_CONNECT, WS_MESSAGE, WS_DISCONNECT = range(30, 36)

FROM_SERVER = frozenset(range(1, 16)) | frozenset(range(40, 45))
FROM_HOST = frozenset(range(20, 27)) | frozenset(range(30, 36))
# The frames that start a call: their id is new, and every later frame of the call carries it.
OPENING = frozenset((REQUEST, ASGI_HTTP, WS_CONNECT))

# Flags. RESPONSE: the head comes first; a u64 body length next (a list body split over frames); the last frame of
# the response; the whole body is in this frame. FILE: HEAD, and DESCRIPTOR (the path is /proc/<pid>/fd/<n>).
HEAD, LENGTH, END, WHOLE, DESCRIPTOR = 1, 2, 4, 8, 16
# ASGI_BODY and ASGI_RESPONSE_BODY: more body follows; WS_MESSAGE and WS_SEND: a text message; ASGI_HTTP: no body.
MORE = TEXT = 1
EMPTY = 2
# REQUEST: the host traces it, and asks for STARTED when a thread takes it.
TRACED = 1

# REQUEST's body kinds: none, the rest of the payload, the UTF-8 path of the file the host spilled it to.
NO_BODY, INLINE_BODY, FILE_BODY = 0, 1, 2
# LOG's kinds: a logging record (name, message, detail), or a line (wsgi.errors, stderr) at WARNING.
LOG_RECORD, LOG_LINE = 0, 1

U16 = struct.Struct("<H")
U32 = struct.Struct("<I")
U64 = struct.Struct("<Q")
OFFSET_COUNT = struct.Struct("<QQ")
LOG_HEAD = struct.Struct("<BH")
HELLO_HEAD = struct.Struct("<HB")

TRUNCATED = "\n[... {} more bytes cut by GatewayBridge: a frame holds at most 16 MiB ...]\n"


class ProtocolError(Exception):
    """The other side sent something that is not this protocol: the connection cannot be trusted any more."""


class HostGone(Exception):
    """The host closed the connection: nobody is left to serve."""


def frame(kind, flags, call_id, *parts):
    """The header for a frame of these parts, then the parts (a list, to be joined or sent as it is)."""
    length = 0
    for part in parts:
        length += len(part)
    if length > MAX_PAYLOAD:
        raise ProtocolError(f"a frame of type {kind} with {length} bytes of payload; the most is {MAX_PAYLOAD}")
    return [HEADER.pack(length, kind, flags, call_id), *parts]


# -- setting up ---------------------------------------------------------------------------------------------------

def encode_hello(secret, module):
    return HELLO_HEAD.pack(VERSION, len(secret)) + secret + module.encode("utf-8")


def decode_hello(payload):
    """(version, secret, the path of the module that answered)."""
    version, length = HELLO_HEAD.unpack_from(payload)
    start = HELLO_HEAD.size
    return version, bytes(payload[start:start + length]), bytes(payload[start + length:]).decode("utf-8")


def ready_info():
    """What READY says: the protocol's version and this module's path (so that a mismatch names them), the process, and
    its Python."""
    return {"version": VERSION, "module": os.path.abspath(__file__), "pid": os.getpid(), "python": sys.version.split()[0],
            "executable": sys.executable}


def encode_json(value):
    """CONFIG and READY: a JSON object, UTF-8."""
    return json.dumps(value, separators=(",", ":"), sort_keys=True).encode("utf-8")


def decode_json(payload):
    try:
        value = json.loads(bytes(payload).decode("utf-8"))
    except ValueError as error:
        raise ProtocolError(f"a JSON payload that does not parse ({error})") from None
    if not isinstance(value, dict):
        raise ProtocolError("CONFIG and READY carry a JSON object")
    return value


def encode_text(text):
    """FAILED and CLOSE_FAILED: a traceback, UTF-8, cut to fit a frame."""
    return _fit(text.encode("utf-8", "backslashreplace"), MAX_PAYLOAD)


def decode_text(payload):
    return bytes(payload).decode("utf-8", "replace")


# -- WSGI ---------------------------------------------------------------------------------------------------------

def encode_request(environ, body_kind, body):
    """environ: 'key\\0value\\0...' as native strings (each char one latin-1 byte); body: bytes (INLINE_BODY), the
    path (FILE_BODY) or None."""
    environ = environ.encode("latin-1")
    if body_kind == FILE_BODY:
        body = body.encode("utf-8")
    return U32.pack(len(environ)) + environ + bytes((body_kind,)) + (body or b"")


def decode_request_message(message, size):
    """A message of a worker's request queue: (call id, flags, environ, body kind, body), the body a view into message (valid
    until the next message is read into it)."""
    if size < HEADER.size:
        raise ProtocolError(f"a request queue message of {size} bytes, shorter than a frame's header")
    length, kind, flags, call_id = HEADER.unpack_from(message)
    if kind != REQUEST or length != size - HEADER.size or call_id == 0:
        raise ProtocolError(f"a request queue message that is not one whole REQUEST (type {kind}, {length} bytes of payload in {size})")
    return (call_id, flags, *decode_request(message[HEADER.size:size]))


def decode_request(payload):
    """(environ as a native string, body kind, body bytes or the spilled file's path or None)."""
    view = memoryview(payload)
    if len(view) < 5:
        raise ProtocolError(f"a REQUEST of {len(view)} bytes, shorter than its layout")
    (length,) = U32.unpack_from(view)
    if 4 + length + 1 > len(view):
        raise ProtocolError("a REQUEST whose environ runs past its payload")
    environ = str(view[4:4 + length], "latin-1")
    kind = view[4 + length]
    rest = view[5 + length:]
    if kind == FILE_BODY:
        return environ, kind, str(rest, "utf-8")
    if kind == INLINE_BODY:
        return environ, kind, rest
    if kind == NO_BODY:
        return environ, kind, None
    raise ProtocolError(f"a REQUEST with body kind {kind}")


def encode_head(head):
    """The status line and headers, 'status\\0name\\0value...', as a length-prefixed block (the HEAD flag)."""
    if head is None:
        return ()
    data = head.encode("utf-8", "surrogateescape")
    return U32.pack(len(data)), data


def encode_response(flags, head, total, body):
    """RESPONSE's parts: the head if flags has HEAD, the whole body's length if it has LENGTH, then body bytes."""
    parts = list(encode_head(head)) if flags & HEAD else []
    if flags & LENGTH:
        parts.append(U64.pack(total))
    if body:
        parts.append(body)
    return parts


def decode_response(flags, payload):
    """(head or None, the whole body's length or None, body bytes)."""
    view = memoryview(payload)
    head, view = _decode_head(flags, view)
    total = None
    if flags & LENGTH:
        (total,) = U64.unpack_from(view)
        view = view[8:]
    return head, total, view


def encode_file(flags, head, offset, count, path):
    return [*(encode_head(head) if flags & HEAD else ()), OFFSET_COUNT.pack(offset, count), path.encode("utf-8")]


def decode_file(flags, payload):
    """(head or None, offset, count, path)."""
    head, view = _decode_head(flags, memoryview(payload))
    offset, count = OFFSET_COUNT.unpack_from(view)
    return head, offset, count, str(view[16:], "utf-8")


def _decode_head(flags, view):
    if not flags & HEAD:
        return None, view
    (length,) = U32.unpack_from(view)
    if 4 + length > len(view):
        raise ProtocolError("a head that runs past its payload")
    return str(view[4:4 + length], "utf-8", "surrogateescape"), view[4 + length:]


def encode_error(kind, message, traceback):
    """ERROR: the exception's type, message and traceback, NUL-separated; message and traceback cut to fit a frame."""
    kind = kind.encode("utf-8", "backslashreplace")[:256]
    budget = MAX_PAYLOAD - len(kind) - 2
    message = _fit(message.encode("utf-8", "backslashreplace"), budget // 4)
    traceback = _fit(traceback.encode("utf-8", "backslashreplace"), budget - len(message))
    return b"\0".join((kind, message, traceback))


def decode_error(payload):
    """(type, message, traceback); missing fields are empty."""
    fields = bytes(payload).decode("utf-8", "replace").split("\0", 2)
    return tuple(fields + [""] * (3 - len(fields)))


def encode_u32(value):
    """CREDIT (response bytes the host has sent on) and TAKEN (request bytes the app has read)."""
    return U32.pack(value)


def encode_started(nanoseconds):
    """STARTED: when a thread took the request, in CLOCK_MONOTONIC nanoseconds (the host's clock too)."""
    return U64.pack(nanoseconds)


def decode_started(payload):
    if len(payload) != 8:
        raise ProtocolError(f"a STARTED of {len(payload)} bytes, not 8")
    return U64.unpack(payload)[0]


def decode_u32(payload):
    if len(payload) != 4:
        raise ProtocolError(f"a 4-byte count of {len(payload)} bytes")
    return U32.unpack(payload)[0]


# -- logging ------------------------------------------------------------------------------------------------------

def encode_log_record(name, level, message, detail):
    """LOG of a logging record; the message and the detail (a traceback) are cut to fit a frame, with a marker."""
    name = name.encode("utf-8", "backslashreplace")[:1024]
    budget = MAX_PAYLOAD - LOG_HEAD.size - len(name) - 2
    message = _fit(message.encode("utf-8", "backslashreplace"), budget // 2)
    detail = _fit((detail or "").encode("utf-8", "backslashreplace"), budget - len(message))
    return LOG_HEAD.pack(LOG_RECORD, level) + b"\0".join((name, message, detail))


def encode_log_line(line):
    """LOG of one line an app wrote to wsgi.errors or stderr (WARNING), cut to fit a frame."""
    return LOG_HEAD.pack(LOG_LINE, 30) + _fit(line.encode("utf-8", "backslashreplace"), MAX_PAYLOAD - LOG_HEAD.size)


def decode_log(payload):
    """(kind, level, name, message, detail): a line has no name and no detail."""
    kind, level = LOG_HEAD.unpack_from(payload)
    text = bytes(payload[LOG_HEAD.size:]).decode("utf-8", "replace")
    if kind == LOG_LINE:
        return kind, level, "", text, ""
    fields = text.split("\0", 2)
    name, message, detail = fields + [""] * (3 - len(fields))
    return kind, level, name, message, detail


def _fit(data, budget):
    """data, or its head and its tail around a marker that says how much was cut, in at most budget bytes."""
    if len(data) <= budget:
        return data
    marker = TRUNCATED.format(len(data)).encode()
    keep = max(0, budget - len(marker) - 16)
    head = keep // 4
    tail = keep - head
    cut = len(data) - head - tail
    return data[:head] + TRUNCATED.format(cut).encode() + (data[len(data) - tail:] if tail else b"")


# -- ASGI ---------------------------------------------------------------------------------------------------------

SCOPE_FIELDS = ("method", "scheme", "http_version", "root_path", "raw_path", "path", "query_string", "client_host",
                "client_port", "server_host", "server_port", "subprotocols")


def encode_scope(fields, headers):
    """ASGI_HTTP and WS_CONNECT: the SCOPE_FIELDS in order, then each header's name and value, all NUL-separated
    bytes (strings as latin-1: one char a byte, as the host sends them)."""
    items = [f.encode("latin-1") for f in fields]
    for name, value in headers:
        items.append(name)
        items.append(value)
    return b"\0".join(items)


def decode_scope(payload):
    """(the SCOPE_FIELDS as native strings, [(name, value)] as bytes)."""
    items = bytes(payload).split(b"\0")
    if len(items) < len(SCOPE_FIELDS) or (len(items) - len(SCOPE_FIELDS)) % 2:
        raise ProtocolError(f"a scope of {len(items)} fields")
    count = len(SCOPE_FIELDS)
    return [i.decode("latin-1") for i in items[:count]], list(zip(items[count::2], items[count + 1::2]))


def encode_headers(headers):
    """An app's headers as ASGI_START and WS_ACCEPT carry them: each name and value preceded by a NUL."""
    parts = []
    for name, value in headers:
        parts.append(b"\0" + bytes(name) + b"\0" + bytes(value))
    return b"".join(parts)


def decode_headers(data):
    if not data:
        return []
    items = bytes(data[1:]).split(b"\0")
    if len(items) % 2:
        raise ProtocolError("headers that do not pair up")
    return list(zip(items[0::2], items[1::2]))


def encode_asgi_start(status, headers):
    return U16.pack(status) + encode_headers(headers)


def decode_asgi_start(payload):
    """(status, [(name, value)])."""
    return U16.unpack_from(payload)[0], decode_headers(memoryview(payload)[2:])


def encode_ws_accept(subprotocol, headers):
    subprotocol = (subprotocol or "").encode("utf-8")
    return U32.pack(len(subprotocol)) + subprotocol + encode_headers(headers)


def decode_ws_accept(payload):
    """(subprotocol or None, [(name, value)])."""
    (length,) = U32.unpack_from(payload)
    subprotocol = bytes(payload[4:4 + length]).decode("utf-8")
    return subprotocol or None, decode_headers(memoryview(payload)[4 + length:])


def encode_close(code, reason=""):
    """WS_CLOSE (code and reason) and WS_DISCONNECT (code only)."""
    return U16.pack(code) + reason.encode("utf-8")


def decode_close(payload):
    """(code, reason)."""
    if len(payload) < 2:
        raise ProtocolError(f"a close code in {len(payload)} bytes")
    return U16.unpack_from(payload)[0], bytes(payload[2:]).decode("utf-8", "replace")


# -- reading and writing ------------------------------------------------------------------------------------------

class FrameBuffer:
    """Frames out of a byte stream, whole: feed() what was read, then take the frames it completed."""

    def __init__(self, expected):
        self.expected = expected
        self.buffer = bytearray()

    def feed(self, data):
        """The (type, flags, id, payload) frames that data completes; raises ProtocolError for bytes that are not."""
        buffer = self.buffer
        buffer += data
        frames = []
        position, size = 0, len(buffer)
        while size - position >= HEADER.size:
            length, kind, flags, call_id = HEADER.unpack_from(buffer, position)
            _check(kind, length, self.expected)
            end = position + HEADER.size + length
            if end > size:
                break
            frames.append((kind, flags, call_id, bytes(buffer[position + HEADER.size:end])))
            position = end
        del buffer[:position]
        return frames


def _check(kind, length, expected):
    if kind not in expected:
        raise ProtocolError(f"a frame of type {kind}, which this side is never sent")
    if length > MAX_PAYLOAD:
        raise ProtocolError(f"a frame of {length} bytes of payload; the most is {MAX_PAYLOAD}")


def receive_with_descriptors(sock, most):
    """One frame read straight from the socket (no Connection reads it): (type, payload, descriptors), up to `most`
    descriptors passed with it: CONFIG (a WSGI worker's request queue), FORK (the new worker's stdout and stderr)."""
    header, descriptors, _, _ = socket.recv_fds(sock, HEADER.size, most)
    if not header:
        raise HostGone()
    header += _receive_exactly(sock, HEADER.size - len(header))
    length, kind, _, _ = HEADER.unpack(header)
    _check(kind, length, FROM_HOST)
    return kind, _receive_exactly(sock, length), descriptors


def _receive_exactly(sock, size):
    data = b""
    while len(data) < size:
        more = sock.recv(size - len(data))
        if not more:
            raise HostGone()
        data += more
    return data


class Connection:
    """A blocking connection to the host. Reads are buffered; sends are queued (from any thread) and go out together, in
    one system call, at flush()."""

    def __init__(self, sock, expected=FROM_HOST):
        self.sock = sock
        self.expected = expected
        self.buffer = bytearray(1 << 16)
        self.start = self.end = 0
        self.out = []
        self.size = 0
        self.lock = threading.Lock()

    def send(self, kind, flags, call_id, *parts):
        pieces = frame(kind, flags, call_id, *parts)
        with self.lock:
            self.out.extend(pieces)
            for piece in pieces:
                self.size += len(piece)

    def flush(self):
        with self.lock:
            out, self.out = self.out, []
            size, self.size = self.size, 0
            if not out:
                return
            if size <= 16 * 1024:
                # Most answers are small: one join and one send() cost less than a gather list.
                self.sock.sendall(b"".join(out))
                return
            views = [memoryview(p) for p in out if p]
            while views:
                # At most 1024 pieces per call, Linux's IOV_MAX (a request that logs hundreds of lines queues thousands).
                sent = self.sock.sendmsg(views[:1024])
                while sent and views:
                    if sent >= len(views[0]):
                        sent -= len(views.pop(0))
                    else:
                        views[0] = views[0][sent:]
                        sent = 0

    def readable(self, timeout):
        """Whether a frame (or part of one) can be read now, or within `timeout` seconds."""
        if self.end - self.start >= HEADER.size:
            return True
        return bool(select.select([self.sock], [], [], timeout)[0])

    def next_frame(self):
        """(type, flags, id, payload) of the next whole frame, waiting for it (what is queued to send goes first)."""
        while True:
            available = self.end - self.start
            if available >= HEADER.size:
                length, kind, flags, call_id = HEADER.unpack_from(self.buffer, self.start)
                _check(kind, length, self.expected)
                total = HEADER.size + length
                if available >= total:
                    payload = bytes(memoryview(self.buffer)[self.start + HEADER.size:self.start + total])
                    self.start += total
                    if self.start == self.end:
                        self.start = self.end = 0
                    return kind, flags, call_id, payload
                if total > len(self.buffer) - self.start:
                    self._make_room(total)
            self.flush()
            self._fill()

    def _make_room(self, total):
        kept = self.buffer[self.start:self.end]
        if total > len(self.buffer):
            self.buffer = bytearray(max(total, 2 * len(self.buffer)))
        self.buffer[:len(kept)] = kept
        self.start, self.end = 0, len(kept)

    def _fill(self):
        if self.end == len(self.buffer):
            self._make_room(len(self.buffer) + 1)
        read = self.sock.recv_into(memoryview(self.buffer)[self.end:])
        if read == 0:
            if self.end > self.start:
                raise ProtocolError(f"the host closed the connection in the middle of a frame ({self.end - self.start} bytes)")
            raise HostGone()
        self.end += read


class Calls:
    """The call ids a side has been sent, for the protocol's one rule on ids: a frame for an id never opened is a
    protocol error; a late frame for a call that has ended is ignored."""

    def __init__(self):
        self.last = 0
        self.live = {}

    def open(self, call_id, call):
        if call_id <= self.last:
            raise ProtocolError(f"call {call_id} opened after call {self.last}: ids only grow")
        self.last = call_id
        self.live[call_id] = call

    def get(self, call_id):
        """The live call, or None for one that has ended; raises ProtocolError for an id never opened."""
        call = self.live.get(call_id)
        if call is None and (call_id == 0 or call_id > self.last):
            raise ProtocolError(f"a frame for call {call_id}, which was never opened")
        return call

    def end(self, call_id):
        self.live.pop(call_id, None)
