"""PostgreSQL details the apps share: enum columns, keys the database makes or enforces, and
which constraint refused a statement."""

import uuid

from django.contrib.postgres.functions import RandomUUID
from django.db import DatabaseError, models


class PgEnumField(models.CharField):
    """A column of a PostgreSQL ENUM type created by a migration (seed #13)."""

    def __init__(self, *args, enum_type: str, **kwargs):
        self.enum_type = enum_type
        kwargs.setdefault("max_length", 16)
        super().__init__(*args, **kwargs)

    def deconstruct(self):
        name, path, args, kwargs = super().deconstruct()
        kwargs["enum_type"] = self.enum_type
        return name, path, args, kwargs

    def db_type(self, connection):
        return self.enum_type


def constraint_name(error: DatabaseError) -> str | None:
    """The constraint (or trigger check) that refused a statement, as PostgreSQL names it: the
    one reliable way to tell refusals apart (their message text is for people)."""
    return getattr(getattr(error.__cause__, "diag", None), "constraint_name", None)


class RandomUUIDPrimaryKey(models.UUIDField):
    """A UUID primary key made by whoever inserts the row: Django (uuid4) or the database
    (gen_random_uuid(), for rows that SQL inserts)."""

    def __init__(self, *args, **kwargs):
        kwargs.update(primary_key=True, default=uuid.uuid4, db_default=RandomUUID())
        kwargs.setdefault("editable", False)
        super().__init__(*args, **kwargs)

    def deconstruct(self):
        name, _, args, kwargs = super().deconstruct()
        for implied in ("primary_key", "default", "db_default", "editable", "serialize"):
            kwargs.pop(implied, None)
        return name, "lib.postgres.RandomUUIDPrimaryKey", args, kwargs


class DatabaseForeignKey(models.ForeignKey):
    """A foreign key whose constraint, index and ON DELETE/UPDATE rules are the database's
    (created by the migrations' SQL). Django must not emulate them: a deletion would become
    a query per related row, under row-level security."""

    def __init__(self, to, *args, **kwargs):
        kwargs.update(on_delete=models.DO_NOTHING, db_constraint=False, db_index=False)
        super().__init__(to, *args, **kwargs)

    def deconstruct(self):
        name, _, args, kwargs = super().deconstruct()
        for implied in ("on_delete", "db_constraint", "db_index"):
            kwargs.pop(implied, None)
        return name, "lib.postgres.DatabaseForeignKey", args, kwargs
