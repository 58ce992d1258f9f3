# A noun with its article or without is one card where both are nouns, decided in Python
# (learning.deck.word_forms): deck_word_forms() made "Das stimmt" one card with "stimmt", and,
# called for each card a line's words were compared with, took 0.9 s for one line (the
# attacker's recheck).

from importlib import import_module

from django.db import migrations

BEFORE = import_module("learning.migrations.0010_a_word_with_its_article_is_one_card")


class Migration(migrations.Migration):
    dependencies = [("learning", "0010_a_word_with_its_article_is_one_card")]

    operations = [migrations.RunSQL("DROP FUNCTION deck_word_forms(text);", BEFORE.FORWARD)]
