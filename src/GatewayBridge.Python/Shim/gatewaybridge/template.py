"""The template of a preloaded app (PythonOptions.Preload, gunicorn's --preload): a process that imports the app once,
freezes what the import made (gc.freeze(), so that the collector never writes to those pages), and forks a worker each
time the host asks (FORK), so the workers share the app's pages and a replacement starts in milliseconds. It serves
nothing itself. It is each worker's parent: it reaps them and tells the host how each ended (EXITED), which the host,
not being their parent, cannot learn otherwise. A forked worker then connects to the host with its own secret and
goes on exactly as a started one, with the app already loaded.
"""

import gc
import json
import os
import select
import signal
import sys
import traceback

from gatewaybridge import apps, logs, protocol
from gatewaybridge.protocol import EXITED, FAILED, FORK, FORKED, LOG, READY, STOP


class Template:
    def __init__(self, connection, config):
        self.connection = connection
        self.config = config

    def run(self):
        # A process group of its own, as a worker has: Ctrl+C at the host's terminal must not end the template before
        # the host stops it (the host would start another while it stops, and its workers' exit statuses be lost).
        os.setpgid(0, 0)
        for folder in reversed(self.config.path):
            if folder not in sys.path:
                sys.path.insert(1, folder)
        logs.install(self._log_record, self.config.log_level)
        sys.stdout.reconfigure(line_buffering=True)
        try:
            # Single-threaded, no loop running: nothing a fork could catch half-done. The workers' own modules are
            # imported here too, so that they share those pages as well.
            from gatewaybridge import workers
            workers.kind(self.config)
            app = apps.load_app(self.config.app)
        except BaseException:
            self._send(FAILED, protocol.encode_text(traceback.format_exc()))
            return 3
        gc.collect()
        gc.freeze()
        self._send(READY, protocol.encode_json(protocol.ready_info()))
        wake_read, wake_write = os.pipe2(os.O_NONBLOCK | os.O_CLOEXEC)
        signal.signal(signal.SIGCHLD, lambda *_: None)
        signal.set_wakeup_fd(wake_write, warn_on_full_buffer=False)
        sock = self.connection.sock
        while True:
            readable, _, _ = select.select([sock, wake_read], [], [])
            if wake_read in readable:
                try:
                    while os.read(wake_read, 512):
                        pass
                except BlockingIOError:
                    pass
                self._reap()
            if sock in readable:
                kind, payload, descriptors = protocol.receive_with_descriptors(sock, 2)
                if kind == STOP:
                    # Its workers live on: the host stops each of them itself.
                    return 0
                if kind != FORK:
                    raise protocol.ProtocolError(f"a frame of type {kind}, which a template is never sent")
                self._fork(json.loads(payload), descriptors, app, (sock, wake_read, wake_write))

    def _fork(self, request, descriptors, app, own):
        pid = os.fork()
        if pid == 0:
            try:
                signal.set_wakeup_fd(-1)
                signal.signal(signal.SIGCHLD, signal.SIG_DFL)
                sock, wake_read, wake_write = own
                sock.close()
                os.close(wake_read)
                os.close(wake_write)
                # The host reads this worker's stdout and stderr through pipes of its own, under this worker's pid.
                os.dup2(descriptors[0], 1)
                os.dup2(descriptors[1], 2)
                for descriptor in descriptors:
                    os.close(descriptor)
                from gatewaybridge import workers
                status = workers.serve(request["secret"], app)
            except BaseException:
                traceback.print_exc()
                status = 1
            finally:
                sys.stdout.flush()
                sys.stderr.flush()
            os._exit(status if isinstance(status, int) else 1)
        for descriptor in descriptors:
            os.close(descriptor)
        self._send(FORKED, protocol.encode_json({"secret": request["secret"], "pid": pid}))

    def _reap(self):
        while True:
            try:
                pid, status = os.waitpid(-1, os.WNOHANG)
            except ChildProcessError:
                return
            if pid == 0:
                return
            # As .NET reports a child's end: the exit status, or 128 + the signal that ended it.
            code = os.waitstatus_to_exitcode(status)
            self._send(EXITED, protocol.encode_json({"pid": pid, "status": code if code >= 0 else 128 - code}))

    def _log_record(self, name, level, message, detail):
        self._send(LOG, protocol.encode_log_record(name, level, message, detail))

    def _send(self, kind, payload):
        self.connection.send(kind, 0, 0, payload)
        self.connection.flush()

