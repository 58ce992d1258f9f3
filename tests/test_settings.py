"""Settings built from the environment."""

import os
import subprocess
import sys
from pathlib import Path

BASE_DIR = Path(__file__).resolve().parent.parent


def _settings(**env) -> str:
    code = (
        "import django, json; django.setup(); from django.conf import settings;"
        " print(json.dumps(settings.DATABASES['default']['OPTIONS'], default=str))"
    )
    result = subprocess.run(
        [sys.executable, "-c", code],
        cwd=BASE_DIR,
        capture_output=True,
        text=True,
        timeout=60,
        env=dict(os.environ, DJANGO_SETTINGS_MODULE="maraum.settings", **env),
        check=True,
    )
    return result.stdout


def test_the_pool_keeps_the_socket_host_from_the_url():
    options = _settings(
        DATABASE_URL="postgres://u@/db?host=/tmp/sock&port=5433", DATABASE_POOL="true"
    )
    assert '"host": "/tmp/sock"' in options and '"pool": {' in options
