# A card's scene is checked as the card is stored, and let go by the database when the scene
# goes (Card.scenario: SET_NULL).

from django.db import migrations

FORWARD = """
-- A card names its scene, or none once the scene goes; checked at once, not at commit: a scene
-- deleted as a card was kept or put back failed the request at its commit (the attacker's recheck).
DO $$
DECLARE name text;
BEGIN
  SELECT conname INTO name FROM pg_constraint
    WHERE conrelid = 'deck_cards'::regclass AND confrelid = 'scenarios'::regclass AND contype = 'f';
  EXECUTE format('ALTER TABLE deck_cards DROP CONSTRAINT %I', name);
END $$;
ALTER TABLE deck_cards ADD CONSTRAINT deck_cards_scenario_id_fkey FOREIGN KEY (scenario_id)
  REFERENCES scenarios (id) ON DELETE SET NULL;
"""

REVERSE = """
ALTER TABLE deck_cards DROP CONSTRAINT deck_cards_scenario_id_fkey;
ALTER TABLE deck_cards ADD CONSTRAINT deck_cards_scenario_id_fkey FOREIGN KEY (scenario_id)
  REFERENCES scenarios (id) DEFERRABLE INITIALLY DEFERRED;
"""


class Migration(migrations.Migration):
    dependencies = [("learning", "0007_one_lock_order_for_the_deck")]

    operations = [migrations.RunSQL(FORWARD, REVERSE)]
