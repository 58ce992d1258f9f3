from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [("accounts", "0006_login_by_digest")]

    operations = [
        migrations.AddField(
            model_name="profile",
            name="carried_completions",
            field=models.IntegerField(db_default=0, default=0),
        ),
        migrations.AddField(
            model_name="profile",
            name="carried_week_start",
            field=models.DateTimeField(blank=True, null=True),
        ),
    ]
