"""The threaded WSGI worker (Threads > 1, gunicorn's gthread model): each thread takes its next request from the queue
itself, when it is free (blocking in the kernel, the GIL released), and runs it; the main thread reads the host's
frames: a request waiting for credit waits on its own condition, which the main thread notifies."""

import socket
import threading

from gatewaybridge.protocol import STOP, HostGone
from gatewaybridge.workers.wsgi import Request, WsgiWorker


class ThreadedRequest(Request):
    """A request whose credit and cancel come from the main thread: each change wakes the thread waiting for it."""

    __slots__ = ("changed",)

    def __init__(self, request_id):
        super().__init__(request_id)
        self.changed = threading.Condition()

    def grant(self, count):
        with self.changed:
            self.credit += count
            self.changed.notify_all()

    def cancel(self):
        with self.changed:
            self.cancelled = True
            self.changed.notify_all()

    def spend(self, count):
        with self.changed:
            self.credit -= count

    def wait_for_credit(self, worker):
        with self.changed:
            while self.credit <= 0 and not self.cancelled:
                self.changed.wait()


class ThreadWorker(WsgiWorker):
    request_class = ThreadedRequest

    def run(self):
        self.ready()
        threads = [threading.Thread(target=self._serve, name=f"GatewayBridge worker thread {i + 1}", daemon=True)
                   for i in range(self.config.threads)]
        for thread in threads:
            thread.start()
        try:
            while True:
                frame = self.receive()
                if frame[0] == STOP:
                    break
                self.control(frame)
        except HostGone:
            pass
        # STOP means "finish what was received": the threads take what the queue still holds, and once it is empty
        # its shutdown ends their wait; the credit and the cancels for their requests keep coming in meanwhile.
        self.queue.shutdown(socket.SHUT_RD)
        try:
            while any(thread.is_alive() for thread in threads):
                if self.connection.readable(0.05):
                    frame = self.receive()
                    if frame[0] != STOP:
                        self.control(frame)
        except HostGone:
            pass
        for thread in threads:
            thread.join()
        return 0

    def _serve(self):
        message = memoryview(bytearray(self.config.request_limit))
        while True:
            size = self.queue.recv_into(message)
            if size == 0:
                return
            frame = self.decode(message, size)
            with self.lock:
                request = self.take(frame[2])
            self.serve_request(request, frame)
