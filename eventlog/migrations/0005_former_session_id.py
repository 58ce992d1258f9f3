# A deleted session's id keeps its own indexed column (seed #24, #40): staff find every event
# of a session by its id, before and after it was deleted, through an index. Before, the id
# moved into `metadata`, whose `@>` is not leakproof, so under row-level security the search
# could not use the GIN index and read every log row.

import importlib

from django.db import migrations, models

EARLIER = importlib.import_module("eventlog.migrations.0003_one_door")

WRITE_LOG = (
    EARLIER.WRITE_LOG.replace(
        """      p_metadata := coalesce(p_metadata, '{}'::jsonb)
        || jsonb_build_object('session_id', p_session_id);
      p_session_id := NULL;""",
        """      v_former_session_id := p_session_id;
      p_session_id := NULL;""",
    )
    .replace(
        """  INSERT INTO logs (level, event_type, user_id, session_id, metadata)
  VALUES (p_level, p_event_type, p_user_id, p_session_id, p_metadata)""",
        """  INSERT INTO logs (level, event_type, user_id, session_id, former_session_id, metadata)
  VALUES (p_level, p_event_type, p_user_id, p_session_id, v_former_session_id, p_metadata)""",
    )
    .replace(
        """DECLARE
  v_id uuid;""",
        """DECLARE
  v_id uuid;
  v_former_session_id uuid;""",
    )
)
assert WRITE_LOG.count("v_former_session_id") == 3, "0003's write_log() changed"

FORWARD = (
    """
-- #24: an event about a session that no longer exists keeps its id in former_session_id.
"""
    + WRITE_LOG
    + """
-- #40: deleting a session clears logs.session_id (ON DELETE SET NULL); the id stays findable.
CREATE FUNCTION keep_former_session_id() RETURNS trigger
  LANGUAGE plpgsql SET search_path = public, pg_temp
  AS $$
BEGIN
  NEW.former_session_id := OLD.session_id;
  RETURN NEW;
END $$;
REVOKE EXECUTE ON FUNCTION keep_former_session_id() FROM PUBLIC;  -- decision 6: no door left open
CREATE TRIGGER logs_keep_former_session_id
  BEFORE UPDATE OF session_id ON logs FOR EACH ROW
  WHEN (OLD.session_id IS NOT NULL AND NEW.session_id IS NULL)
  EXECUTE FUNCTION keep_former_session_id();

UPDATE logs SET former_session_id = (metadata ->> 'session_id')::uuid,
                metadata = nullif(metadata - 'session_id', '{}'::jsonb)
WHERE metadata ? 'session_id'
  AND metadata ->> 'session_id' ~ '^[0-9a-fA-F-]{36}$'
  AND session_id IS NULL;
"""
)

REVERSE = (
    """
UPDATE logs SET metadata = coalesce(metadata, '{}'::jsonb)
                           || jsonb_build_object('session_id', former_session_id)
WHERE former_session_id IS NOT NULL;
DROP TRIGGER logs_keep_former_session_id ON logs;
DROP FUNCTION keep_former_session_id();
"""
    + EARLIER.WRITE_LOG
)


class Migration(migrations.Migration):
    dependencies = [("eventlog", "0004_logs_by_month")]

    operations = [
        migrations.AddField(
            model_name="log",
            name="former_session_id",
            field=models.UUIDField(blank=True, null=True),
        ),
        migrations.AddIndex(
            model_name="log",
            index=models.Index(
                models.F("former_session_id"),
                models.OrderBy(models.F("created_at"), descending=True),
                condition=models.Q(("former_session_id__isnull", False)),
                name="idx_logs_former_session",
            ),
        ),
        migrations.RunSQL(FORWARD, reverse_sql=REVERSE),
    ]
