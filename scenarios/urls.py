from django.urls import path

from scenarios import views

urlpatterns = [
    path("", views.home, name="home"),
    path("scenarios/<slug:code>/start/", views.start_scenario, name="start_scenario"),
    path("sessions/<uuid:session_id>/abandon/", views.abandon, name="abandon_session"),
    path("history/", views.history, name="history"),
    path("history/<uuid:session_id>/", views.transcript, name="transcript"),
]
