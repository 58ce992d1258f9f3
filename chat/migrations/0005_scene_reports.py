# Scene reports: one per completed session, written by a background task.

import django.db.models.deletion
import django.db.models.functions.datetime
import lib.postgres
from django.db import migrations, models

FORWARD = """
-- A report goes with its session and its learner.
ALTER TABLE scene_reports ADD CONSTRAINT scene_reports_session_id_fkey FOREIGN KEY (session_id)
  REFERENCES sessions (id) ON DELETE CASCADE ON UPDATE CASCADE;
ALTER TABLE scene_reports ADD CONSTRAINT scene_reports_user_id_fkey FOREIGN KEY (user_id)
  REFERENCES profiles (id) ON DELETE CASCADE ON UPDATE CASCADE;
CREATE TRIGGER populate_user_id_on_insert BEFORE INSERT ON scene_reports
  FOR EACH ROW EXECUTE FUNCTION populate_message_user_id();
ALTER TABLE scene_reports ALTER COLUMN user_id SET NOT NULL;

-- decision 6: row-level security on reports. A learner asks for their report (a pending row)
-- and reads it; only the report task (as staff) writes it, and once written it never changes.
ALTER TABLE scene_reports ENABLE ROW LEVEL SECURITY;
ALTER TABLE scene_reports FORCE ROW LEVEL SECURITY;
CREATE POLICY scene_reports_select_own ON scene_reports FOR SELECT TO maraum_learner
  USING (user_id = current_learner_id());
CREATE POLICY scene_reports_insert_own ON scene_reports FOR INSERT TO maraum_learner
  WITH CHECK (user_id = current_learner_id() AND status = 'pending' AND content IS NULL);
CREATE POLICY scene_reports_staff_all ON scene_reports FOR ALL TO maraum_staff
  USING (current_user = 'maraum_staff') WITH CHECK (current_user = 'maraum_staff');
REVOKE ALL ON scene_reports FROM maraum_learner;
GRANT SELECT, INSERT ON scene_reports TO maraum_learner;

-- Issue 13: a written report is immutable, like messages.
CREATE FUNCTION prevent_report_rewrites() RETURNS trigger
  LANGUAGE plpgsql SET search_path = public, pg_temp
  AS $$
BEGIN
  IF OLD.status <> 'pending' THEN
    RAISE EXCEPTION 'A written report never changes'
      USING ERRCODE = 'check_violation', CONSTRAINT = 'scene_reports_immutable';
  END IF;
  RETURN NEW;
END $$;
CREATE TRIGGER scene_reports_immutable BEFORE UPDATE ON scene_reports
  FOR EACH ROW EXECUTE FUNCTION prevent_report_rewrites();
REVOKE EXECUTE ON FUNCTION prevent_report_rewrites() FROM PUBLIC;
"""

REVERSE = """
DROP TRIGGER IF EXISTS scene_reports_immutable ON scene_reports;
DROP FUNCTION IF EXISTS prevent_report_rewrites();
"""


class Migration(migrations.Migration):
    dependencies = [
        ("accounts", "0004_levels"),
        ("chat", "0004_reached_goals"),
        ("scenarios", "0007_shipped_scenes"),
    ]

    operations = [
        migrations.CreateModel(
            name="SceneReport",
            fields=[
                (
                    "session",
                    models.OneToOneField(
                        db_constraint=False,
                        on_delete=django.db.models.deletion.DO_NOTHING,
                        primary_key=True,
                        related_name="report",
                        serialize=False,
                        to="scenarios.session",
                    ),
                ),
                (
                    "status",
                    models.CharField(
                        choices=[("pending", "Pending"), ("ready", "Ready"), ("failed", "Failed")],
                        default="pending",
                        max_length=8,
                    ),
                ),
                (
                    "kind",
                    models.CharField(
                        blank=True,
                        choices=[("model", "Model"), ("offline", "Offline")],
                        default="",
                        max_length=8,
                    ),
                ),
                ("content", models.JSONField(blank=True, null=True)),
                ("attempts", models.SmallIntegerField(db_default=0, default=0)),
                (
                    "requested_at",
                    models.DateTimeField(db_default=django.db.models.functions.datetime.Now()),
                ),
                ("finished_at", models.DateTimeField(blank=True, null=True)),
                (
                    "user",
                    lib.postgres.DatabaseForeignKey(
                        blank=True, null=True, related_name="+", to="accounts.profile"
                    ),
                ),
            ],
            options={
                "db_table": "scene_reports",
                "indexes": [
                    models.Index(fields=["user"], name="idx_scene_reports_user"),
                    models.Index(
                        condition=models.Q(("status", "pending")),
                        fields=["requested_at"],
                        name="idx_scene_reports_pending",
                    ),
                ],
                "constraints": [
                    models.CheckConstraint(
                        condition=models.Q(("status__in", ["pending", "ready", "failed"])),
                        name="scene_reports_status_valid",
                    ),
                    models.CheckConstraint(
                        condition=models.Q(
                            models.Q(("content__isnull", False), ("status", "ready")),
                            models.Q(("status", "ready"), _negated=True),
                            _connector="OR",
                        ),
                        name="scene_reports_ready_has_content",
                    ),
                ],
            },
        ),
        migrations.RunSQL(FORWARD, REVERSE),
    ]
