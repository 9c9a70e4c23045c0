"""The threaded WSGI worker (Threads > 1, gunicorn's gthread model): the main thread reads frames and queues each
request for a pool of threads; a request waiting for credit waits on its own condition, which the main thread
notifies."""

import threading
from collections import deque

from gatewaybridge.protocol import REQUEST, STOP, HostGone
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
        self.queue = deque()
        self.stopping = False
        self.queue_ready = threading.Condition(self.lock)
        threads = [threading.Thread(target=self._serve, name=f"GatewayBridge worker thread {i + 1}", daemon=True)
                   for i in range(self.config.threads)]
        for thread in threads:
            thread.start()
        try:
            while True:
                frame = self.receive()
                if frame[0] == STOP:
                    break
                if frame[0] == REQUEST:
                    with self.lock:
                        self.queue.append(frame)
                        self.queue_ready.notify()
                else:
                    self.control(frame)
        except HostGone:
            pass
        finally:
            with self.lock:
                self.stopping = True
                self.queue_ready.notify_all()
        # STOP means "finish what was received": the threads answer the requests still queued, while the credit and
        # the cancels for them keep coming in.
        try:
            while any(thread.is_alive() for thread in threads):
                if self.connection.readable(0.05):
                    frame = self.receive()
                    if frame[0] != REQUEST and frame[0] != STOP:
                        self.control(frame)
        except HostGone:
            pass
        for thread in threads:
            thread.join()
        return 0

    def _serve(self):
        while True:
            with self.lock:
                while not self.queue and not self.stopping:
                    self.queue_ready.wait()
                if not self.queue:
                    return
                # Taken in the order the requests came, under the lock the main thread's cancels take too.
                frame = self.queue.popleft()
                request = self.take(frame[2])
            if request is not None:
                self.serve_request(request, frame)
            else:
                self.connection.flush()
