"""A Pyramid app deployed as Pyramid apps are: by a PasteDeploy file (production.ini), whose settings it reads."""
from pyramid.config import Configurator
from pyramid.response import Response


def main(global_config, **settings):
    def hello(request):
        return Response(settings["greeting"], content_type="text/plain")

    with Configurator(settings=settings) as config:
        config.add_route("hello", "/")
        config.add_view(hello, route_name="hello")
        return config.make_wsgi_app()
