"""A Django site whose settings, URLs and views fit in one file. ASP.NET Core authenticates the request;
Django reads the user from REMOTE_USER, as it would behind any front server that authenticates."""
from django.conf import settings

if not settings.configured:
    settings.configure(
        DEBUG=False,
        SECRET_KEY="example-only-not-a-secret",
        ROOT_URLCONF=__name__,
        ALLOWED_HOSTS=["*"],
        MIDDLEWARE=["django.middleware.common.CommonMiddleware"],
        INSTALLED_APPS=[],
        DATABASES={},
        USE_TZ=True,
    )

from django.core.wsgi import get_wsgi_application  # noqa: E402
from django.http import HttpResponse, JsonResponse  # noqa: E402
from django.urls import path, reverse  # noqa: E402


def index(request):
    return HttpResponse(f"Hello from Django, {request.META.get('REMOTE_USER', 'anonymous')}!", content_type="text/plain")


def item(request, item_id):
    return JsonResponse({"id": item_id, "url": reverse("item", args=[item_id]), "user": request.META.get("REMOTE_USER")})


urlpatterns = [
    path("", index),
    path("items/<int:item_id>", item, name="item"),
]

application = get_wsgi_application()
