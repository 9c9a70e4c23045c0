"""A Pyramid app, loaded through its factory (gunicorn's module:factory())."""
from pyramid.config import Configurator
from pyramid.response import Response


def hello(request):
    return Response(f"Hello from Pyramid at {request.application_url}!", content_type="text/plain")


def info(request):
    return {"framework": "pyramid", "route": request.matched_route.name, "script_name": request.script_name}


def make_app():
    with Configurator() as config:
        config.add_route("hello", "/")
        config.add_view(hello, route_name="hello")
        config.add_route("info", "/info")
        config.add_view(info, route_name="info", renderer="json")
        return config.make_wsgi_app()
