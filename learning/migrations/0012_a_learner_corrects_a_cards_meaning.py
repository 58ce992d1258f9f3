# A learner corrects their own card's meaning (deck.set_meaning): given once, a typo in it
# meant removing the card, its reviews with it, and keeping it again (a newcomer's walk). The
# background task still fills only an empty meaning (deck.add_glosses), so it never overwrites
# the learner's; row-level security keeps each learner to their own cards.

from importlib import import_module

from django.db import migrations

GIVEN_ONCE = import_module("learning.migrations.0004_a_meaning_is_given_once")


class Migration(migrations.Migration):
    dependencies = [("learning", "0011_a_noun_is_one_card_with_its_article_only_if_capitalized")]

    operations = [migrations.RunSQL(GIVEN_ONCE.REVERSE, GIVEN_ONCE.FORWARD)]
