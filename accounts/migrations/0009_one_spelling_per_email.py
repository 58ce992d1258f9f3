# One spelling per mailbox (accounts/emails.py): accounts stored with a domain in its ASCII
# form ("xn--...") or a quoted local part get the spelling sign-up and log-in now give, unless
# an account already has it (then both stay, and staff decide).

from django.core.exceptions import ValidationError
from django.db import migrations
from django.db.models import Q

from accounts.emails import canonical


def _one_spelling(apps, schema_editor):
    user_model = apps.get_model("accounts", "User")
    spelled_otherwise = Q(email__contains='"') | Q(email__icontains="xn--")
    for user in user_model.objects.filter(spelled_otherwise):
        local, _, domain = user.email.rpartition("@")
        if len(local) > 2 and local[0] == local[-1] == '"' and '"' not in local[1:-1]:
            local = local[1:-1]
        try:
            email = canonical(f"{local}@{domain}")
        except ValidationError:
            continue
        if email != user.email and not user_model.objects.filter(email=email).exists():
            user_model.objects.filter(pk=user.pk).update(email=email)


class Migration(migrations.Migration):
    dependencies = [("accounts", "0008_admin_history_forgets_deleted_accounts")]

    operations = [migrations.RunPython(_one_spelling, migrations.RunPython.noop)]
