"""What every worker process does, whatever it serves (gunicorn's workers/base.py): it connects to the host's socket,
proves itself, takes its Config, imports the app, says READY, takes SIGTERM as a graceful stop and SIGUSR1 as a call
for every thread's traceback, checks its memory, and sends its logging records as LOG frames. A kind of worker adds
its serving loop (run) and nothing else: sync.py, gthread.py, asgi.py.
"""

import faulthandler
import mmap
import os
import signal
import socket
import sys
import threading
import traceback

from gatewaybridge import apps, logs, protocol
from gatewaybridge.protocol import CONFIG, FAILED, GOODBYE, HELLO, LOG, READY, RETIRE

BOOT_ERROR = 3  # the app could not be imported (gunicorn's WORKER_BOOT_ERROR)
HOST = {}  # the host's socket and proof, kept for the workers a template forks
PROTOCOL_ERROR = 4  # the host's bytes were not the protocol


class Config:
    """What the host's CONFIG says, as attributes, for whoever needs it."""

    def __init__(self, values):
        self.proof = values.get("proof", "")
        self.app = values.get("app", "")
        self.interface = values.get("interface", "wsgi")
        self.path = values.get("path", [])
        self.threads = values.get("threads", 1)
        self.validate = values.get("validate", False)
        self.max_memory = values.get("max_memory")
        self.graceful_timeout = values.get("graceful_timeout", 30)
        self.log_level = values.get("log_level", 20)
        self.traceback_file = values.get("traceback_file")
        self.scoreboard = values.get("scoreboard")
        self.request_limit = values.get("request_limit", 0)
        self.post_fork = values.get("post_fork")
        self.template = values.get("template", False)
        self.reload = values.get("reload", False)
        self.requests = None  # a WSGI worker's request queue, the socket passed with CONFIG


def connect(secret=None):
    """Connects to the host that started this process (or asked its template to fork it, with `secret`), proves itself,
    and returns (connection, Config). Exits if the answer does not prove it came from that host."""
    sock_path = os.environ.pop("GATEWAYBRIDGE_SOCKET") if secret is None else HOST["socket"]
    secret = os.environ.pop("GATEWAYBRIDGE_WORKER_TOKEN").encode() if secret is None else secret.encode()
    host_secret = os.environ.pop("GATEWAYBRIDGE_HOST_TOKEN").encode() if "GATEWAYBRIDGE_HOST_TOKEN" in os.environ else HOST["proof"]
    # A template forks workers that connect the same way: what they need of the host is kept.
    HOST["socket"], HOST["proof"] = sock_path, host_secret
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    sock.connect(sock_path)
    connection = protocol.Connection(sock)
    connection.send(HELLO, 0, 0, protocol.encode_hello(secret, protocol.__file__))
    connection.flush()
    kind, payload, descriptors = protocol.receive_with_descriptors(sock, 1)
    config = Config(protocol.decode_json(payload) if kind == CONFIG else {})
    if not _same(config.proof.encode(), host_secret):
        # Whoever answered is not the host that started this worker.
        raise SystemExit("gatewaybridge worker: the connection did not come from the host that started this worker; refused.")
    if descriptors:
        config.requests = socket.socket(fileno=descriptors[0])
    if config.reload:
        apps.import_from_source(config.path)
    return connection, config


class Worker:
    """One worker process's life around its serving loop."""

    def __init__(self, connection, config, preloaded=None):
        self.connection = connection
        self.config = config
        self.preloaded = preloaded  # the app a template imported before it forked this worker
        self.app = None
        self.pid = os.getpid()
        self.forked = False
        self.retiring = False
        self.lock = threading.Lock()
        self.goodbye_sent = False

    def start(self):
        """Boots and serves; returns the exit status."""
        # A child the app forks must not hold the host's connection: the host would not see this worker die.
        os.register_at_fork(after_in_child=self._in_child)
        # A process group of its own: Ctrl+C at the host's terminal stops the host, which stops its workers in order,
        # instead of interrupting them in the middle of their requests.
        os.setpgid(0, 0)
        try:
            self.configure()
            self.app = self.load()
            if self.config.post_fork:
                # What must not be shared between forked workers (connections, seeds) is opened here.
                apps.load_app(self.config.post_fork)()
        except BaseException:
            self.connection.send(FAILED, 0, 0, protocol.encode_text(traceback.format_exc()))
            self.connection.flush()
            return BOOT_ERROR
        self._take_sigterm()
        try:
            return self.run()
        except protocol.ProtocolError as error:
            print(f"gatewaybridge worker {self.pid}: the host broke the worker protocol ({error}); exiting.", file=sys.stderr)
            return PROTOCOL_ERROR

    def configure(self):
        # The app's folders come after the shim's own (sys.path[0]): the shim's modules are found before any of the app's.
        for folder in reversed(self.config.path):
            if folder not in sys.path:
                sys.path.insert(1, folder)
        logs.install(self.log_record, self.config.log_level)
        # print() reaches the host a line at a time, as it does in the host's own interpreter.
        sys.stdout.reconfigure(line_buffering=True)
        if self.config.traceback_file:
            # The host asks for every thread's traceback (SIGUSR1) before it stops a worker stuck in app code.
            faulthandler.register(signal.SIGUSR1, file=open(self.config.traceback_file, "w"), all_threads=True)

    def load(self):
        return self.preloaded if self.preloaded is not None else apps.load_app(self.config.app)

    def run(self):
        """The serving loop, until the host says STOP or goes; returns the exit status."""
        raise NotImplementedError

    def ready(self):
        self.connection.send(READY, 0, 0, protocol.encode_json(protocol.ready_info()))
        self.connection.flush()

    # -- what the host hears about between requests ------------------------------------------------------------

    def log_record(self, name, level, message, detail):
        """Where this process's logging records go (logs.install)."""
        self.send_log(protocol.encode_log_record(name, level, message, detail))

    def errors_line(self, line):
        """Where a line of wsgi.errors goes."""
        self.send_log(protocol.encode_log_line(line))

    def send_log(self, payload):
        self.post(LOG, payload)

    def post(self, kind, payload=b""):
        """Sends a frame that belongs to no call (LOG, RETIRE, GOODBYE) at once, from any thread."""
        self.connection.send(kind, 0, 0, payload)
        self.connection.flush()

    def goodbye(self):
        """SIGTERM: the host is told to send nothing new, and to say STOP once what this worker holds is answered."""
        with self.lock:
            if self.goodbye_sent:
                return
            self.goodbye_sent = True
        self.post(GOODBYE)

    def check_memory(self):
        """Asks to be replaced (RETIRE, once) when this process's own memory passed the limit: the pages it shares with
        its template (or anyone) do not count. Resident memory is cheap to read and never less than its own, so the
        dearer count is taken only past the limit."""
        limit = self.config.max_memory
        if limit and not self.retiring and resident_bytes() > limit and own_bytes() > limit:
            self.retiring = True
            self.post(RETIRE)

    def scoreboard(self):
        """The file the host reads, without a system call, to learn which request this worker started last."""
        if not self.config.scoreboard:
            return None
        with open(self.config.scoreboard, "r+b") as file:
            return mmap.mmap(file.fileno(), 4096)

    def _take_sigterm(self):
        """SIGTERM is a graceful stop, as gunicorn's workers take it. The signal's C handler writes to a pipe a thread of
        its own reads, so it is taken whichever thread it hits and whatever the main thread is doing; no signal stays
        blocked, so the app's own children get SIGTERM as usual."""
        read_end, write_end = os.pipe2(os.O_NONBLOCK | os.O_CLOEXEC)
        os.set_blocking(read_end, True)
        signal.signal(signal.SIGTERM, lambda *_: None)
        signal.set_wakeup_fd(write_end, warn_on_full_buffer=False)

        def wait():
            while True:
                if signal.SIGTERM in os.read(read_end, 64):
                    self.goodbye()

        threading.Thread(target=wait, name="GatewayBridge SIGTERM", daemon=True).start()

    def _in_child(self):
        self.forked = True
        self.connection.sock.close()
        if self.config.requests is not None:
            self.config.requests.close()


def _same(a, b):
    """Whether two secrets are equal, in a time that does not depend on where they differ (hmac.compare_digest's
    promise, without importing hashlib's OpenSSL into every worker)."""
    if len(a) != len(b):
        return False
    difference = 0
    for x, y in zip(a, b):
        difference |= x ^ y
    return difference == 0


def resident_bytes():
    with open("/proc/self/statm", "rb") as statm:
        return int(statm.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")


def own_bytes():
    """USS: the resident pages no other process maps (Private_Clean + Private_Dirty of smaps_rollup)."""
    total = 0
    with open("/proc/self/smaps_rollup", "rb") as rollup:
        for line in rollup:
            if line.startswith((b"Private_Clean:", b"Private_Dirty:")):
                total += int(line.split()[1]) * 1024
    return total
