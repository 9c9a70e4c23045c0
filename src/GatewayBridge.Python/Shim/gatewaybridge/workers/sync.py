"""The single-threaded WSGI worker (Threads = 1, gunicorn's sync model): the main thread reads a request, runs the app
and writes the answer, one request at a time; safe for apps that are not thread-safe."""

from collections import deque

from gatewaybridge.protocol import REQUEST, STOP, HostGone
from gatewaybridge.workers.wsgi import WsgiWorker


class SyncWorker(WsgiWorker):
    def run(self):
        self.ready()
        self.pending = deque()
        try:
            while True:
                frame = self.pending.popleft() if self.pending else self.receive()
                if frame[0] == STOP:
                    break
                if frame[0] == REQUEST:
                    # What arrived while the last request ran is read first: a CANCEL for this one among it.
                    while self.connection.readable(0):
                        self.pump()
                    request = self.take(frame[2])
                    if request is not None:
                        self.serve_request(request, frame)
                    else:
                        self.connection.flush()
                else:
                    self.control(frame)
        except HostGone:
            pass
        return 0

    def pump(self):
        """Reads one frame while a request runs (for its credit, or a cancel): a request or STOP waits its turn."""
        frame = self.receive()
        if frame[0] == REQUEST or frame[0] == STOP:
            self.pending.append(frame)
        else:
            self.control(frame)
