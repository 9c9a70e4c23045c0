"""Needs a module only a virtual environment has, and Flask from the system's site-packages."""
import flask
import venv_only


def app(environ, start_response):
    import sys

    start_response("200 OK", [("Content-Type", "text/plain")])
    return [("%s|%s|%s" % (venv_only.NAME, flask.__name__, sys.prefix)).encode()]
