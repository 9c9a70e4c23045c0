"""The Python Cookbook's XML-RPC service: CPython's SimpleXMLRPCDispatcher behind a few lines of WSGI.
Any xmlrpc.client.ServerProxy('http://host/rpc/') can call it."""
from xmlrpc.server import SimpleXMLRPCDispatcher

_dispatcher = SimpleXMLRPCDispatcher(allow_none=True, encoding=None)
_store = {}


def add(a, b):
    return a + b


def put(key, value):
    _store[key] = value
    return True


def get(key):
    return _store.get(key)


for _function in (add, put, get):
    _dispatcher.register_function(_function)
_dispatcher.register_introspection_functions()


def application(environ, start_response):
    if environ["REQUEST_METHOD"] != "POST":
        start_response("405 Method Not Allowed", [("Content-Type", "text/plain"), ("Allow", "POST")])
        return [b"XML-RPC takes POST"]
    request = environ["wsgi.input"].read(int(environ.get("CONTENT_LENGTH") or 0))
    response = _dispatcher._marshaled_dispatch(request)
    start_response("200 OK", [("Content-Type", "text/xml"), ("Content-Length", str(len(response)))])
    return [response]
