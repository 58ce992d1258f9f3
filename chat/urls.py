from django.urls import path

from chat import views

urlpatterns = [
    path("sessions/<uuid:session_id>/", views.chat_page, name="session"),
]
