# Logs partitioned by month (seed review #30, #35): the 30-day rule (decision 8, #32) drops a
# month that has wholly expired as one table instead of deleting its rows one by one.

from django.db import migrations

FORWARD = """
ALTER TABLE logs RENAME TO logs_unpartitioned;

CREATE TABLE logs (
    id uuid DEFAULT gen_random_uuid() NOT NULL,
    level varchar(8) NOT NULL,
    event_type varchar(40) NOT NULL,
    metadata jsonb,
    created_at timestamptz DEFAULT statement_timestamp() NOT NULL,
    session_id uuid,
    user_id uuid,
    CONSTRAINT logs_level_valid CHECK (level IN ('error', 'warn', 'info', 'debug'))
) PARTITION BY RANGE (created_at);

-- #24: logging never breaks the action it records: a row for a month without its table yet
-- lands here (add_log_partition() moves such rows into the month's table when it is made).
CREATE TABLE logs_default PARTITION OF logs DEFAULT;

-- #35: one table per calendar month (UTC), made ahead of time by `cleanup`; owned by the
-- owner, so the runtime roles get only this door to DDL.
CREATE FUNCTION add_log_partition(p_month date) RETURNS boolean
  LANGUAGE plpgsql SECURITY DEFINER SET search_path = public, pg_temp
  AS $$
DECLARE
  v_from timestamptz := date_trunc('month', p_month)::timestamp AT TIME ZONE 'UTC';
  v_to timestamptz := (date_trunc('month', p_month) + interval '1 month')::timestamp AT TIME ZONE 'UTC';
  v_name text := 'logs_' || to_char(p_month, 'YYYY_MM');
BEGIN
  IF to_regclass(v_name) IS NOT NULL THEN
    RETURN false;
  END IF;
  CREATE TEMP TABLE log_strays ON COMMIT DROP AS
    SELECT * FROM logs_default WHERE created_at >= v_from AND created_at < v_to;
  DELETE FROM logs_default WHERE created_at >= v_from AND created_at < v_to;
  EXECUTE format('CREATE TABLE %I PARTITION OF logs FOR VALUES FROM (%L) TO (%L)', v_name, v_from, v_to);
  -- Into the month's own table: the parent's row-level security admits only maraum_staff.
  EXECUTE format('INSERT INTO %I SELECT * FROM log_strays', v_name);
  DROP TABLE log_strays;
  RETURN true;
END $$;

-- #30: the 30-day rule, a month at a time: every month table wholly older than the cutoff.
CREATE FUNCTION drop_log_partitions_before(p_cutoff timestamptz) RETURNS integer
  LANGUAGE plpgsql SECURITY DEFINER SET search_path = public, pg_temp
  AS $$
DECLARE
  v_name text;
  v_dropped integer := 0;
BEGIN
  FOR v_name IN
    SELECT c.relname FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid
    WHERE i.inhparent = 'logs'::regclass AND c.relname ~ '^logs_[0-9]{4}_[0-9]{2}$'
    ORDER BY c.relname
  LOOP
    IF (to_date(substr(v_name, 6), 'YYYY_MM') + interval '1 month')::timestamp AT TIME ZONE 'UTC'
       <= p_cutoff THEN
      EXECUTE format('DROP TABLE %I', v_name);
      v_dropped := v_dropped + 1;
    END IF;
  END LOOP;
  RETURN v_dropped;
END $$;

REVOKE ALL ON FUNCTION add_log_partition(date) FROM PUBLIC;
REVOKE ALL ON FUNCTION drop_log_partitions_before(timestamptz) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION add_log_partition(date) TO maraum_staff;
GRANT EXECUTE ON FUNCTION drop_log_partitions_before(timestamptz) TO maraum_staff;

SELECT add_log_partition(month::date)
FROM generate_series(
  date_trunc('month', least(coalesce((SELECT min(created_at) FROM logs_unpartitioned), now()), now()) AT TIME ZONE 'UTC'),
  date_trunc('month', now() AT TIME ZONE 'UTC') + interval '3 months',
  interval '1 month'
) AS month;

INSERT INTO logs (id, level, event_type, metadata, created_at, session_id, user_id)
  SELECT id, level, event_type, metadata, created_at, session_id, user_id FROM logs_unpartitioned;
DROP TABLE logs_unpartitioned;

ALTER TABLE logs ADD CONSTRAINT logs_pkey PRIMARY KEY (id, created_at);
CREATE INDEX idx_logs_created_at ON logs (created_at DESC);
CREATE INDEX idx_logs_event_type ON logs (event_type);
CREATE INDEX idx_logs_level ON logs (level);
CREATE INDEX idx_logs_level_created ON logs (level, created_at DESC);
CREATE INDEX idx_logs_metadata ON logs USING gin (metadata);
CREATE INDEX idx_logs_session ON logs (session_id, created_at DESC) WHERE session_id IS NOT NULL;
CREATE INDEX idx_logs_user ON logs (user_id, created_at DESC) WHERE user_id IS NOT NULL;

-- #40: events outlive their learner and session; the reference is cleared, the row stays.
ALTER TABLE logs ADD CONSTRAINT logs_user_id_fkey FOREIGN KEY (user_id)
  REFERENCES profiles (id) ON DELETE SET NULL ON UPDATE CASCADE;
ALTER TABLE logs ADD CONSTRAINT logs_session_id_fkey FOREIGN KEY (session_id)
  REFERENCES sessions (id) ON DELETE SET NULL ON UPDATE CASCADE;

-- decision 6/#24: only staff read logs; every role writes them through write_log() only.
ALTER TABLE logs ENABLE ROW LEVEL SECURITY;
ALTER TABLE logs FORCE ROW LEVEL SECURITY;
CREATE POLICY logs_select_own ON logs FOR SELECT TO maraum_learner
  USING (user_id = current_learner_id());
CREATE POLICY logs_staff_all ON logs FOR ALL TO maraum_staff
  USING (current_user = 'maraum_staff') WITH CHECK (current_user = 'maraum_staff');
GRANT SELECT, INSERT, UPDATE, DELETE ON logs TO maraum_staff;
"""

REVERSE = """
ALTER TABLE logs RENAME TO logs_partitioned;
CREATE TABLE logs (LIKE logs_partitioned INCLUDING DEFAULTS INCLUDING CONSTRAINTS);
INSERT INTO logs SELECT * FROM logs_partitioned;
DROP TABLE logs_partitioned;
DROP FUNCTION drop_log_partitions_before(timestamptz);
DROP FUNCTION add_log_partition(date);
ALTER TABLE logs ADD CONSTRAINT logs_pkey PRIMARY KEY (id);
CREATE INDEX idx_logs_created_at ON logs (created_at DESC);
CREATE INDEX idx_logs_event_type ON logs (event_type);
CREATE INDEX idx_logs_level ON logs (level);
CREATE INDEX idx_logs_level_created ON logs (level, created_at DESC);
CREATE INDEX idx_logs_metadata ON logs USING gin (metadata);
CREATE INDEX idx_logs_session ON logs (session_id, created_at DESC) WHERE session_id IS NOT NULL;
CREATE INDEX idx_logs_user ON logs (user_id, created_at DESC) WHERE user_id IS NOT NULL;
ALTER TABLE logs ADD CONSTRAINT logs_user_id_fkey FOREIGN KEY (user_id)
  REFERENCES profiles (id) ON DELETE SET NULL ON UPDATE CASCADE;
ALTER TABLE logs ADD CONSTRAINT logs_session_id_fkey FOREIGN KEY (session_id)
  REFERENCES sessions (id) ON DELETE SET NULL ON UPDATE CASCADE;
ALTER TABLE logs ENABLE ROW LEVEL SECURITY;
ALTER TABLE logs FORCE ROW LEVEL SECURITY;
CREATE POLICY logs_select_own ON logs FOR SELECT TO maraum_learner
  USING (user_id = current_learner_id());
CREATE POLICY logs_staff_all ON logs FOR ALL TO maraum_staff
  USING (current_user = 'maraum_staff') WITH CHECK (current_user = 'maraum_staff');
GRANT SELECT, INSERT, UPDATE, DELETE ON logs TO maraum_staff;
"""


class Migration(migrations.Migration):
    dependencies = [("eventlog", "0003_one_door")]

    operations = [migrations.RunSQL(FORWARD, reverse_sql=REVERSE)]
