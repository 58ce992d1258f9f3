# A learner gives a card its meaning only while it has none (chat.tasks.gloss_cards fills an
# empty one); the grant of 0002 allowed any change. Staff may still correct it.

from django.db import migrations

FORWARD = """
-- decision 6: a learner's card gets its meaning once; only staff change it after that.
CREATE FUNCTION keep_a_cards_meaning() RETURNS trigger
  LANGUAGE plpgsql SET search_path = public, pg_temp
  AS $$
BEGIN
  IF current_user = 'maraum_learner' AND OLD.gloss <> '' AND NEW.gloss IS DISTINCT FROM OLD.gloss
  THEN
    RAISE EXCEPTION 'A card''s meaning is given once: this one has it already'
      USING ERRCODE = 'insufficient_privilege';
  END IF;
  RETURN NEW;
END $$;
REVOKE EXECUTE ON FUNCTION keep_a_cards_meaning() FROM PUBLIC;
CREATE TRIGGER keep_a_cards_meaning BEFORE UPDATE OF gloss ON deck_cards
  FOR EACH ROW EXECUTE FUNCTION keep_a_cards_meaning();
"""

REVERSE = """
DROP TRIGGER IF EXISTS keep_a_cards_meaning ON deck_cards;
DROP FUNCTION IF EXISTS keep_a_cards_meaning();
"""


class Migration(migrations.Migration):
    dependencies = [("learning", "0003_cards_say_a_meaning_is_on_its_way")]

    operations = [migrations.RunSQL(FORWARD, REVERSE)]
