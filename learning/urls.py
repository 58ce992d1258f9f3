from django.urls import path

from learning import views

urlpatterns = [
    path("deck/", views.cards, name="deck"),
    path("deck/keep/", views.keep, name="keep"),
    path("deck/remove/", views.remove, name="remove_card"),
    path("deck/put-back/", views.put_back, name="put_back_card"),
    path("deck/meaning/", views.set_meaning, name="set_meaning"),
    path("deck/export.<str:kind>", views.export, name="export_deck"),
    path("review/", views.review, name="review"),
    path("review/<uuid:card_id>/", views.answer, name="answer_card"),
]
