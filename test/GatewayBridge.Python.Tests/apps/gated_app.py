"""A WSGI app whose import waits while the file named by GATEWAYBRIDGE_TEST_IMPORT_GATE is missing: a slow import
(Django's can take seconds) that the test decides the length of. Only workers of this module wait on it."""
import os
import signal
import time

_gate = os.environ.get("GATEWAYBRIDGE_TEST_IMPORT_GATE")
while _gate and not os.path.exists(_gate):
    time.sleep(0.01)


def app(environ, start_response):
    if environ["PATH_INFO"] == "/crash":
        os.kill(os.getpid(), signal.SIGKILL)
    start_response("200 OK", [("Content-Type", "text/plain")])
    return [str(os.getpid()).encode()]
