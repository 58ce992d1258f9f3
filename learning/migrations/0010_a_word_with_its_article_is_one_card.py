# One card a word, in any case, and a noun with its article or without: "das Hähnchen" from a
# report and "Hähnchen" from a line were two cards (a newcomer's walk).

from django.db import migrations

FORWARD = """
-- The lower-case forms a card of this word may hold (learning.deck: keep() and kept_of()
-- compare lower(german) with them, so the index on it finds them): itself, without its
-- article, and a single word with each article. "der See" and "die See" are one card too.
CREATE FUNCTION deck_word_forms(word text) RETURNS text[]
  LANGUAGE sql IMMUTABLE PARALLEL SAFE
  AS $$
    SELECT ARRAY[
      lower(word),
      regexp_replace(lower(word), '^(der|die|das) (?=[^ ]+$)', ''),
      CASE WHEN strpos(word, ' ') = 0 THEN 'der ' || lower(word) END,
      CASE WHEN strpos(word, ' ') = 0 THEN 'die ' || lower(word) END,
      CASE WHEN strpos(word, ' ') = 0 THEN 'das ' || lower(word) END
    ]
  $$;
REVOKE EXECUTE ON FUNCTION deck_word_forms(text) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION deck_word_forms(text) TO maraum_learner, maraum_staff;
"""

REVERSE = "DROP FUNCTION deck_word_forms(text);"


class Migration(migrations.Migration):
    dependencies = [("learning", "0009_a_cards_gone_scene_is_no_failing_statement")]

    operations = [migrations.RunSQL(FORWARD, REVERSE)]
