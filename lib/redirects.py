"""Where a form may send the browser back to: a page of this site, named by its path."""

import unicodedata

from django.http import HttpRequest
from django.utils.http import url_has_allowed_host_and_scheme


def page_on_this_site(request: HttpRequest, url: str) -> str | None:
    """`url` if it is a path on this site, else None. Not a view's name ("foo" was reversed,
    and failed: a 500 that also blocked the login; the attacker's replay), another host, or
    a text with control characters in it (no header may hold a newline)."""
    if not url.startswith("/") or any(unicodedata.category(c)[0] == "C" for c in url):
        return None
    if not url_has_allowed_host_and_scheme(url, {request.get_host()}, request.is_secure()):
        return None
    return url
