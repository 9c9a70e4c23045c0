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
