"""The apps python-load.sh serves through GatewayBridge and gunicorn alike."""
import hashlib

from flask import Flask


def hello(environ, start_response):
    """A bare WSGI hello: what the server itself costs."""
    start_response("200 OK", [("Content-Type", "text/plain"), ("Content-Length", "13")])
    return [b"Hello, World!"]


flask_app = Flask(__name__)


@flask_app.route("/")
def flask_hello():
    return "Hello, World!"


def busy(environ, start_response):
    """CPU-bound Python (about 5 ms of hashing): saturates the interpreter while a native endpoint is measured."""
    digest = b""
    for _ in range(2000):
        digest = hashlib.sha256(digest + b"x" * 64).digest()
    start_response("200 OK", [("Content-Type", "text/plain")])
    return [digest.hex().encode()]


class _Body:
    """A body as Flask and Django return it: an iterable with close(), not a list."""

    def __init__(self, chunks):
        self.chunks = chunks

    def __iter__(self):
        return iter(self.chunks)

    def close(self):
        pass


def lazy_hello(environ, start_response):
    """The bare hello, its body a lazy iterable with close()."""
    start_response("200 OK", [("Content-Type", "text/plain"), ("Content-Length", "13")])
    return _Body([b"Hello, World!"])
