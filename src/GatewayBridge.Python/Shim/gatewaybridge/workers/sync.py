"""The single-threaded WSGI worker (Threads = 1, gunicorn's sync model): the main thread takes a request from the queue
only when it is free, runs the app and writes the answer, one request at a time; safe for apps that are not
thread-safe. While requests keep coming it reads the queue and nothing else: one system call per request in, one out."""

import select
import socket
from collections import deque

from gatewaybridge.protocol import STOP, HostGone
from gatewaybridge.workers.wsgi import WsgiWorker


class SyncWorker(WsgiWorker):
    def run(self):
        self.ready()
        self.pending = deque()
        self.stopping = False
        message = memoryview(bytearray(self.config.request_limit))
        try:
            while True:
                if self.requests:
                    # A descriptor waits for the host's DONE: read what the host sent before the next request.
                    self._read_control(wait=False)
                try:
                    size = self.queue.recv_into(message, 0, socket.MSG_DONTWAIT)
                except BlockingIOError:
                    # The queue is empty: what is queued to send goes out, then this waits for a request or a frame.
                    if self.stopping:
                        break
                    self.connection.flush()
                    self._read_control(wait=True)
                    continue
                if size == 0:
                    break
                frame = self.decode(message, size)
                self.serve_request(self.take(frame[2]), frame)
        except HostGone:
            pass
        return 0

    def _read_control(self, wait):
        """Handles the host's frames that have come (waiting for one, or for a request, when wait is set); STOP means
        finish what the queue holds, then exit."""
        while self.pending or self.connection.readable(0):
            self._handle(self.pending.popleft() if self.pending else self.receive())
            wait = False
        if wait and not self.stopping:
            readable, _, _ = select.select([self.queue, self.connection.sock], [], [])
            if self.connection.sock in readable:
                self._handle(self.receive())

    def _handle(self, frame):
        if frame[0] == STOP:
            self.stopping = True
        else:
            self.control(frame)

    def pump(self):
        """Reads one frame while a request runs (for its credit, or a cancel): STOP waits its turn."""
        frame = self.receive()
        if frame[0] == STOP:
            self.pending.append(frame)
        else:
            self.control(frame)
