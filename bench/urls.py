from django.http import HttpResponse
from django.urls import include, path


def minimal(request):
    """The floor for page timings: a Django view through the same middleware, no templates."""
    return HttpResponse("ok", content_type="text/plain")


urlpatterns = [
    path("__bench__/minimal", minimal),
    path("", include("maraum.urls")),
]
