"""Form bodies must be UTF-8, as HTML sends them: anything else is refused here, once, before
any middleware reads the form."""

from django.http import HttpRequest, HttpResponse, HttpResponseBadRequest

NOT_UTF8 = "Forms must be sent as UTF-8."


class FormBodiesInUtf8Middleware:
    """Django refuses a form declared in another charset each time something reads it, and
    the 400 page's own CSRF check read it again: a 500 whose 27 chained tracebacks (62 KB of
    ERROR log) anyone could ask for. Undeclared bytes that are not UTF-8 it read as Latin-1,
    and kept them garbled. Both found by the attacker's replays."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        if request.method == "POST" and request.content_type == "application/x-www-form-urlencoded":
            declared = request.encoding
            if declared is not None and declared.lower() != "utf-8":
                return HttpResponseBadRequest(NOT_UTF8)
            try:
                request.body.decode("utf-8")
            except UnicodeDecodeError:
                return HttpResponseBadRequest(NOT_UTF8)
        return self.get_response(request)
