# The background task queue (django-tasks' database backend) is the worker's, as staff.

from django.db import migrations


class Migration(migrations.Migration):
    dependencies = [
        ("chat", "0005_scene_reports"),
        ("django_tasks_database", "0021_conditional_partial_index_ordering"),
    ]

    operations = [
        migrations.RunSQL(
            # decision 6 (least privilege): learners never read or write the queue.
            "REVOKE ALL ON django_tasks_database_dbtaskresult FROM maraum_learner;",
            "GRANT SELECT, INSERT, UPDATE, DELETE ON django_tasks_database_dbtaskresult TO maraum_learner;",
        )
    ]
