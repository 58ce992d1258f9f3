"""Log retention: rows older than 30 days go (decision 8, seed #32). `logs` is partitioned by
month (eventlog/migrations/0004): a month wholly past the cutoff is dropped as one table, the
rest of the expired rows are deleted in batches, and the coming months' tables are made ahead."""

from datetime import datetime, timedelta

from django.db import connection

from lib.rls import acting_as_staff

LOG_RETENTION = timedelta(days=30)
MONTHS_MADE_AHEAD = 3


def drop_expired_log_months(cutoff: datetime) -> int:
    """Drop every month of logs that lies wholly before `cutoff`; how many were dropped."""
    with acting_as_staff(), connection.cursor() as cursor:
        cursor.execute("SELECT drop_log_partitions_before(%s)", [cutoff])
        return cursor.fetchone()[0]


def make_coming_log_months() -> int:
    """Make the tables of this month and the next MONTHS_MADE_AHEAD; how many were new."""
    with acting_as_staff(), connection.cursor() as cursor:
        cursor.execute(
            "SELECT count(*) FILTER (WHERE add_log_partition(month::date)) FROM generate_series("
            " date_trunc('month', now() AT TIME ZONE 'UTC'),"
            " date_trunc('month', now() AT TIME ZONE 'UTC') + %s * interval '1 month',"
            " interval '1 month') AS month",
            [MONTHS_MADE_AHEAD],
        )
        return cursor.fetchone()[0]


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
