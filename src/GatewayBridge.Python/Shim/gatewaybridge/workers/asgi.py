"""The ASGI worker: one asyncio loop serves every request (gatewaybridge.asgi, as in the host's interpreter); what the
base sends from other threads (log records, GOODBYE, RETIRE) goes through the loop."""

from gatewaybridge import asgi, protocol
from gatewaybridge.workers import base


class AsgiWorker(base.Worker):
    server = None

    def run(self):
        served = asgi.run(self.connection.sock, self.app, self.config.app, self.config.graceful_timeout, started=self._started)
        return 0 if served else base.BOOT_ERROR

    def _started(self, loop, server):
        self.server = server
        if self.config.max_memory:
            def check():
                self.check_memory()
                if not self.retiring:
                    loop.call_later(1.0, check)

            loop.call_later(1.0, check)

    def post(self, kind, payload=b""):
        if self.server is None:
            super().post(kind, payload)
        else:
            # Only the loop writes to the socket once it serves.
            self.server.send_threadsafe(b"".join(protocol.frame(kind, 0, 0, payload)))
