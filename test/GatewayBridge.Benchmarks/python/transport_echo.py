"""The worker side of the transport benchmark (TransportBenchmark.cs): reads length-prefixed requests, builds a dict
from each one's NUL-separated environ as a worker would, and answers each with a 100-byte frame, all frames of one
read in one write. Over a Unix socket (argv: uds PATH) or over stdin/stdout pipes (argv: pipe)."""

import os
import socket
import struct
import sys

RESPONSE = struct.pack("<I", 100) + b"x" * 100
HEADER = struct.Struct("<I")


def main():
    if sys.argv[1] == "uds":
        sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        sock.connect(sys.argv[2])
        read_into, write = sock.recv_into, sock.sendall
    else:
        read_into = lambda view: os.readv(0, [view])  # noqa: E731
        write = lambda data: os.write(1, data)  # noqa: E731
    buffer = bytearray(1 << 20)
    view = memoryview(buffer)
    have = 0
    while True:
        n = read_into(view[have:])
        if n == 0:
            return
        have += n
        start, answers = 0, 0
        while have - start >= 4:
            (length,) = HEADER.unpack_from(buffer, start)
            if have - start - 4 < length:
                break
            items = bytes(view[start + 4:start + 4 + length]).decode("latin-1").split("\0")
            environ = dict(zip(items[0::2], items[1::2]))
            assert "REQUEST_METHOD" in environ
            answers += 1
            start += 4 + length
        if answers:
            write(RESPONSE * answers)
        view[:have - start] = view[start:have]
        have -= start


if __name__ == "__main__":
    main()
