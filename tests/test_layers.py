"""The apps depend one way: accounts <- scenarios <- chat, with eventlog and lib at the ground
(the import-linter contract in pyproject.toml). An import back up fails this test."""

import subprocess
import sys
from pathlib import Path

BASE_DIR = Path(__file__).resolve().parents[1]


def test_the_apps_depend_one_way():
    lint_imports = Path(sys.executable).with_name("lint-imports")
    result = subprocess.run(
        [str(lint_imports), "--no-cache"], cwd=BASE_DIR, capture_output=True, text=True
    )
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-2000:]
    assert "1 kept, 0 broken" in result.stdout
