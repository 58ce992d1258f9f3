from django.contrib import admin
from django.templatetags.static import static
from django.urls import include, path
from django.views.generic import RedirectView

from accounts.views import admin_login

urlpatterns = [
    # Browsers ask for /favicon.ico on pages without an icon link (the admin's).
    path("favicon.ico", RedirectView.as_view(url=static("favicon.svg"), permanent=True)),
    path("admin/login/", admin_login),  # one login path for learners and staff
    path("admin/", admin.site.urls),
    path("", include("accounts.urls")),
    path("", include("scenarios.urls")),
    path("", include("chat.urls")),
    path("", include("learning.urls")),
]
