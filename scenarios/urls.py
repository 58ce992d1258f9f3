from django.urls import path

from scenarios import views

urlpatterns = [
    path("", views.home, name="home"),
    path("sessions/<uuid:session_id>/abandon/", views.abandon, name="abandon_session"),
    path("history/", views.history, name="history"),
]
