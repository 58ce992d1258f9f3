# The tasks still to run or running, indexed apart from the finished ones: a waiting report's
# and a learner's meanings task are looked up among them (chat.tasks) on every poll of a report
# still being written, and the finished rows are many (kept for 7 days: lib/task_queue.py).

from django.db import migrations


class Migration(migrations.Migration):
    dependencies = [
        ("chat", "0009_last_reply_failure"),
        ("django_tasks_database", "0021_conditional_partial_index_ordering"),
    ]

    operations = [
        migrations.RunSQL(
            # A report is written once, a learner's meanings asked one call at a time
            # (chat.tasks): their live tasks, found without reading the finished rows.
            "CREATE INDEX maraum_live_tasks_idx ON django_tasks_database_dbtaskresult"
            " (task_path) WHERE status IN ('READY', 'RUNNING');",
            "DROP INDEX IF EXISTS maraum_live_tasks_idx;",
        )
    ]
