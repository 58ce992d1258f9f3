from django.urls import path

from chat import views

urlpatterns = [
    path("scenarios/<slug:code>/start/", views.start_scenario, name="start_scenario"),
    path("sessions/<uuid:session_id>/", views.chat_page, name="session"),
    path(
        "sessions/<uuid:session_id>/earlier/<str:chat>/",
        views.earlier_messages,
        name="earlier_messages",
    ),
    path(
        "sessions/<uuid:session_id>/lines/<uuid:message_id>/words/",
        views.line_words,
        name="line_words",
    ),
    path("history/<uuid:session_id>/", views.transcript, name="transcript"),
    path("history/<uuid:session_id>/export.md", views.transcript, name="transcript_export"),
    path("sessions/<uuid:session_id>/report/", views.report, name="report"),
]
