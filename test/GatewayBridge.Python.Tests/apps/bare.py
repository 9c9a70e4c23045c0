"""Bare WSGI apps for the tests: each shows one part of PEP 3333 as the server must honour it."""


def hello(environ, start_response):
    start_response("200 OK", [("Content-Type", "text/plain")])
    return [b"Hello, ", environ["PATH_INFO"].encode("latin-1"), b"!"]


def generator(environ, start_response):
    start_response("200 OK", [("Content-Type", "text/plain")])
    for i in range(3):
        yield b"chunk %d\n" % i
