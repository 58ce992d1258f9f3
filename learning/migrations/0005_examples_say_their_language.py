# A card kept from a helper answer has an English example around its German words.

from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [
        ("learning", "0004_a_meaning_is_given_once"),
    ]

    operations = [
        migrations.AddField(
            model_name="card",
            name="example_language",
            field=models.CharField(
                choices=[("de", "German"), ("en", "English")],
                db_default="de",
                default="de",
                max_length=2,
            ),
        ),
    ]
