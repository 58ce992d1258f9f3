from django.core.management.base import BaseCommand, CommandError

from lib.setup_checks import findings


class Command(BaseCommand):
    help = (
        "Check that this deployment is set up safely, point by point: the database server and "
        "migrations; the runtime login (owns nothing, creates no role, inherits nothing); the "
        "policy roles; no function of ours executable by PUBLIC; row-level security enabled "
        "and forced; the server's logging; background tasks waiting for a worker; the channel "
        "layer; whether an Anthropic key is set (never printed). Exits non-zero when a check "
        "fails. (`manage.py check --deploy --database default` reports the same failures.)"
    )

    def handle(self, *args, **options):
        failures = warnings = 0
        for finding in findings():
            if finding.status == "fail":
                failures += 1
                self.stdout.write(self.style.ERROR(f"FAIL  {finding.text}"))
            elif finding.status == "warn":
                warnings += 1
                self.stdout.write(self.style.WARNING(f"WARN  {finding.text}"))
            else:
                self.stdout.write(f"ok    {finding.text}")
        if failures:
            raise CommandError(f"{failures} check(s) failed, {warnings} warning(s): see above.")
        return f"All checks passed ({warnings} warning(s))."
