"""An app that starts a non-daemon thread spinning in Python forever: exit must not wait for it."""
import threading


def _spin():
    n = 0
    while True:
        n += 1


threading.Thread(target=_spin, name="spinner").start()


def app(environ, start_response):
    start_response("200 OK", [("Content-Type", "text/plain")])
    return [b"spinning"]
