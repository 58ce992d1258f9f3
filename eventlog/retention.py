"""Log retention: rows older than 30 days are deleted (decision 8, seed #32), in batches."""

from datetime import datetime, timedelta

from django.db import connection

from lib.rls import acting_as_staff

LOG_RETENTION = timedelta(days=30)


def count_old_logs(cutoff: datetime) -> int:
    with acting_as_staff(), connection.cursor() as cursor:
        cursor.execute("SELECT count(*) FROM logs WHERE created_at < %s", [cutoff])
        return cursor.fetchone()[0]


def delete_old_logs_batch(cutoff: datetime, limit: int) -> int:
    """Delete up to `limit` logs older than `cutoff`, oldest first, in one transaction."""
    with acting_as_staff(), connection.cursor() as cursor:
        # MATERIALIZED: the batch is picked once, so the LIMIT bounds it.
        cursor.execute(
            "WITH batch AS MATERIALIZED ("
            " SELECT id FROM logs WHERE created_at < %(cutoff)s"
            " ORDER BY created_at LIMIT %(limit)s FOR UPDATE SKIP LOCKED)"
            " DELETE FROM logs l USING batch WHERE l.id = batch.id",
            {"cutoff": cutoff, "limit": limit},
        )
        return cursor.rowcount
