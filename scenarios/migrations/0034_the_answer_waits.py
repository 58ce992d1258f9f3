# The help text of "then go on after it" says the answer waits while a line before it asks
# for a goal not reached yet (a newcomer's walk: the answer was not said, and it said nothing why).

from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [
        ("scenarios", "0033_the_bakers_prices"),
    ]

    operations = [
        migrations.AlterField(
            model_name="goal",
            name="offline_goes_on_after_answer",
            field=models.BooleanField(
                default=False,
                help_text="The script goes on from the line after the answer instead, leaving out the lines before it that were not said: “Das ist alles” leads to the till. The answer then waits while a line before it asks for a goal not reached yet: nothing bought, no till.",
                verbose_name="then go on after it",
            ),
        ),
    ]
