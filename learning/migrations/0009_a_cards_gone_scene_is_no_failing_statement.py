# A card kept or put back as its scene is deleted is stored without the scene, decided before
# the insert: learnt from the insert failing on the foreign key, the failing statement, the
# learner's word and line in it, went into a server's log (the attacker's replay).

from django.db import migrations

FORWARD = """
-- Nothing a learner wrote in a failing statement (README, "The server's own log"): a card's
-- scene is locked as the foreign key's own check locks it, waiting for a deletion under way,
-- and the card names none if it is gone.
CREATE FUNCTION card_scene_or_none() RETURNS trigger
  LANGUAGE plpgsql SECURITY DEFINER SET search_path = public, pg_temp
  AS $$
BEGIN
  IF NEW.scenario_id IS NOT NULL THEN
    PERFORM 1 FROM scenarios WHERE id = NEW.scenario_id FOR KEY SHARE;
    IF NOT FOUND THEN
      NEW.scenario_id := NULL;
    END IF;
  END IF;
  RETURN NEW;
END $$;
ALTER FUNCTION card_scene_or_none() OWNER TO maraum_staff;
REVOKE EXECUTE ON FUNCTION card_scene_or_none() FROM PUBLIC;
CREATE TRIGGER a_cards_scene_or_none BEFORE INSERT OR UPDATE OF scenario_id ON deck_cards
  FOR EACH ROW EXECUTE FUNCTION card_scene_or_none();
"""

REVERSE = """
DROP TRIGGER a_cards_scene_or_none ON deck_cards;
DROP FUNCTION card_scene_or_none();
"""


class Migration(migrations.Migration):
    dependencies = [("learning", "0008_a_cards_scene_checked_as_stored")]

    operations = [migrations.RunSQL(FORWARD, REVERSE)]
