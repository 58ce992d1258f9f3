# The event log at the ground: event names are the app's (eventlog/events.py, checked by
# log_event(), the one door: seed #29, no list to migrate for each new event) and its ids are
# plain; write_log() refuses a learner's request that names someone else and locks in the one
# order of a learner's rows; least privilege on logs; the maintenance rules keep one
# implementation each, the batched commands'.

import importlib

from django.db import migrations, models

import eventlog.events

EARLIER = importlib.import_module("eventlog.migrations.0002_logs_sql")

WRITE_LOG = """
CREATE OR REPLACE FUNCTION write_log(p_level text, p_event_type text, p_user_id uuid,
                                     p_session_id uuid, p_metadata jsonb) RETURNS uuid
  LANGUAGE plpgsql SECURITY DEFINER SET search_path = public, pg_temp
  AS $$
DECLARE
  v_id uuid;
BEGIN
  IF current_setting('role') = 'maraum_learner' AND (
       p_user_id IS DISTINCT FROM current_learner_id()
    OR EXISTS (SELECT 1 FROM sessions WHERE id = p_session_id
               AND user_id IS DISTINCT FROM current_learner_id())) THEN
    RAISE EXCEPTION 'A learner''s request logs only about that learner'
      USING ERRCODE = 'insufficient_privilege';
  END IF;
  IF p_session_id IS NOT NULL THEN
    PERFORM 1 FROM sessions WHERE id = p_session_id FOR KEY SHARE;
    IF NOT FOUND THEN
      p_metadata := coalesce(p_metadata, '{}'::jsonb)
        || jsonb_build_object('session_id', p_session_id);
      p_session_id := NULL;
    END IF;
  END IF;
  IF p_user_id IS NOT NULL THEN
    PERFORM 1 FROM profiles WHERE id = p_user_id FOR KEY SHARE;
    IF NOT FOUND THEN
      p_user_id := NULL;
    END IF;
  END IF;
  INSERT INTO logs (level, event_type, user_id, session_id, metadata)
  VALUES (p_level, p_event_type, p_user_id, p_session_id, p_metadata)
  RETURNING id INTO v_id;
  RETURN v_id;
END $$;
"""

FORWARD = (
    """
-- decision 6/#24: learners read no logs; every role writes them through write_log() only.
REVOKE ALL ON logs FROM maraum_learner;

-- #24: write_log(), the one door into logs. A learner's request runs as maraum_learner (the
-- `role` setting, whoever owns the function): it may log about itself only, never forge a
-- row about another learner or their session. The session's key lock comes before the
-- profile's, the one lock order of a learner's rows: the foreign key checks of the insert took
-- the profile's first and deadlocked against a start (which holds the active session and asks
-- for the profile). Held to the end, the rows also cannot vanish between check and insert.
"""
    + WRITE_LOG
    + """
REVOKE EXECUTE ON FUNCTION write_log(text, text, uuid, uuid, jsonb) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION write_log(text, text, uuid, uuid, jsonb)
  TO maraum_learner, maraum_auth, maraum_staff;

-- #32/#45: expiry, log retention and the weekly reset run batched in the `cleanup` and
-- `reset_weekly_limits` commands, their one implementation: a database that still has the
-- one-statement SQL versions of the same rules (from an earlier 0002) loses them.
DROP FUNCTION IF EXISTS reset_weekly_limits();
DROP FUNCTION IF EXISTS delete_old_logs();
DROP FUNCTION IF EXISTS delete_expired_sessions();
"""
)

REVERSE = (
    EARLIER.WRITE_LOG.replace("CREATE FUNCTION", "CREATE OR REPLACE FUNCTION")
    + """
GRANT EXECUTE ON FUNCTION write_log(text, text, uuid, uuid, jsonb) TO PUBLIC;
GRANT SELECT ON logs TO maraum_learner;
"""
)


class Migration(migrations.Migration):
    dependencies = [
        ("eventlog", "0002_logs_sql"),
        ("accounts", "0003_logins"),
        ("scenarios", "0005_one_week_rule"),
    ]

    operations = [
        migrations.RemoveConstraint(model_name="log", name="logs_event_type_valid"),
        migrations.AlterField(
            model_name="log",
            name="event_type",
            field=models.CharField(choices=eventlog.events.event_choices, max_length=40),
        ),
        # The foreign keys (ON DELETE SET NULL) stay the database's (0002); the app sees plain
        # ids, so the event log knows no model of the apps that write to it.
        migrations.SeparateDatabaseAndState(
            state_operations=[
                migrations.RemoveIndex(model_name="log", name="idx_logs_session"),
                migrations.RemoveIndex(model_name="log", name="idx_logs_user"),
                migrations.RemoveField(model_name="log", name="session"),
                migrations.RemoveField(model_name="log", name="user"),
                migrations.AddField(
                    model_name="log",
                    name="session_id",
                    field=models.UUIDField(blank=True, null=True),
                ),
                migrations.AddField(
                    model_name="log",
                    name="user_id",
                    field=models.UUIDField(blank=True, null=True),
                ),
                migrations.AddIndex(
                    model_name="log",
                    index=models.Index(
                        models.F("session_id"),
                        models.OrderBy(models.F("created_at"), descending=True),
                        condition=models.Q(("session_id__isnull", False)),
                        name="idx_logs_session",
                    ),
                ),
                migrations.AddIndex(
                    model_name="log",
                    index=models.Index(
                        models.F("user_id"),
                        models.OrderBy(models.F("created_at"), descending=True),
                        condition=models.Q(("user_id__isnull", False)),
                        name="idx_logs_user",
                    ),
                ),
            ]
        ),
        migrations.RunSQL(FORWARD, reverse_sql=REVERSE),
    ]
