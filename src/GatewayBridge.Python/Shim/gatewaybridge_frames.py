"""The frames GatewayBridge's host and its worker processes exchange (loaded by the workers; apps never import it).

A frame is a header (payload length u32, type u8, flags u8, request id u32, little-endian) and a payload.

Host to worker:
    CONFIG    JSON: app spec, sys.path entries, threads, validator, memory limit, log level, the host's proof, and
              the scoreboard: a file the worker maps and writes the id of each request it starts into (u32 at 0)
    REQUEST   u32 environ length, the environ (NUL-separated native strings, latin-1), then the body: u8 kind
              (0 none, 1 the rest of the payload, 2 the rest is the UTF-8 path of the file it spilled to)
    CREDIT    u32 more body bytes this response may send (each response starts with WINDOW)
    CANCEL    the request ended early (the client left, a timeout): the app is closed at its next step
    DONE      the host has opened the file of a FILE answer: its descriptor may be closed
    STOP      finish what was received, then exit (atexit handlers run)
Worker to host:
    HELLO     the worker's secret;  READY  JSON about the worker;  FAILED  the traceback of a failed import
    RESPONSE  flags HEAD (u32 length and the UTF-8 status line and headers first), WHOLE (the frame holds the
              whole body), LENGTH (a u64 body length next: a list body split over frames), END (the last frame
              of the body); then body bytes
    FILE      flag HEAD as above; u64 offset, u64 count, then the UTF-8 path to open: the file's own, or with flag
              DESCRIPTOR /proc/<pid>/fd/<n>, the worker's descriptor of a file without a usable name, held until
              the host says DONE; the response is over
    ERROR     the app failed: type, message and traceback, NUL-separated; the response is over
    CLOSE_FAILED  the traceback of the iterable's failed close();  LOG  a logging record or a wsgi.errors line
    RETIRE    resident memory passed the limit: replace me;  GOODBYE  SIGTERM: send nothing new, then STOP me
An ASGI worker (gatewaybridge_asgi) adds its own frames for the ASGI events, and TAKEN (request bytes the app has
read) and DONE_APP (the app returned).

The host's side of the same protocol is GatewayBridge.Python's Workers/WorkerFrames.cs.
"""

import select
import struct
import threading

HEADER = struct.Struct("<IBBI")
U32 = struct.Struct("<I")
U64 = struct.Struct("<Q")
OFFSET_COUNT = struct.Struct("<QQ")
LOG_HEAD = struct.Struct("<BH")

HELLO, READY, FAILED, RESPONSE, FILE, ERROR, CLOSE_FAILED, LOG, RETIRE, GOODBYE, TAKEN, DONE_APP = range(1, 13)
CONFIG, REQUEST, CREDIT, CANCEL, DONE, STOP = range(20, 26)
HEAD, LENGTH, END, WHOLE, DESCRIPTOR = 1, 2, 4, 8, 16

WINDOW = 256 * 1024  # body bytes a response may have on their way before the host grants more
FRAGMENT = 64 * 1024  # the largest body frame: the host never holds more than this of one read
IOV_MAX = 1024  # Linux's limit on the pieces of one sendmsg()
SMALL = 16 * 1024  # what is joined into one buffer before it is sent; larger pieces are sent where they are


class HostGone(Exception):
    """The host closed the connection: the worker has nobody to serve."""


class Connection:
    """Frames to and from the host. Reads are buffered; sends are queued and go out in one system call at flush()."""

    def __init__(self, sock):
        self.sock = sock
        self.buffer = bytearray(1 << 16)
        self.start = self.end = 0
        self.out = []
        self.size = 0
        self.lock = threading.Lock()

    def send(self, kind, flags, request_id, *parts):
        length = 0
        for part in parts:
            length += len(part)
        with self.lock:
            self.out.append(HEADER.pack(length, kind, flags, request_id))
            self.out.extend(parts)
            self.size += HEADER.size + length

    def flush(self):
        with self.lock:
            out, self.out = self.out, []
            size, self.size = self.size, 0
            if not out:
                return
            if size <= SMALL:
                # Most answers are small: one join and one send() cost less than a gather list.
                self.sock.sendall(b"".join(out))
                return
            views = [memoryview(p) for p in out if p]
            while views:
                # At most IOV_MAX pieces per call (a request that logs hundreds of lines queues thousands).
                sent = self.sock.sendmsg(views[:IOV_MAX])
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
        """(kind, flags, id, payload) of the next whole frame, waiting for it (what is queued to send goes first)."""
        while True:
            available = self.end - self.start
            if available >= HEADER.size:
                length, kind, flags, request_id = HEADER.unpack_from(self.buffer, self.start)
                total = HEADER.size + length
                if available >= total:
                    payload = bytes(memoryview(self.buffer)[self.start + HEADER.size:self.start + total])
                    self.start += total
                    if self.start == self.end:
                        self.start = self.end = 0
                    return kind, flags, request_id, payload
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
            raise HostGone()
        self.end += read
