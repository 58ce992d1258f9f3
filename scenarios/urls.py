from django.urls import path

from scenarios import views

urlpatterns = [
    path("", views.home, name="home"),
]
