"""Backfilling a column row by row, in batches."""

from __future__ import annotations

import uuid
from collections.abc import Callable, Sequence
from typing import Any

from django.db import models
from django.db.backends.base.schema import BaseDatabaseSchemaEditor
from django.db.migrations.state import ProjectState

from .. import batches
from ..constants import Stage
from ..executor import deploy_output
from .concurrent import AlterFieldConcurrently
from .staged import AnyField


class BackfillField(AlterFieldConcurrently):
    """Fill a NULLable column row by row with its field's default, in batches,
    then make it NOT NULL without blocking reads and writes.

    Each row gets a value of its own (``uuid.uuid4``, ``timezone.now``...).
    Each batch is a short transaction of its own; an interrupted backfill
    resumes with the rows still NULL. Batches have ``batch_size`` rows, or,
    if it is ``None``, as many as fit in about ``batches.BATCH_SECONDS``.
    """

    stage = Stage.POST_DEPLOY

    def __init__(
        self,
        model_name: str,
        name: str,
        field: AnyField,
        batch_size: int | None = None,
        pause: float = 0.0,
    ) -> None:
        self.batch_size = batch_size
        self.pause = pause
        super().__init__(model_name, name, field, stage=Stage.POST_DEPLOY)

    def deconstruct(self) -> tuple[str, Sequence[Any], dict[str, Any]]:
        name, args, kwargs = super().deconstruct()
        del kwargs["stage"]
        if self.batch_size is not None:
            kwargs["batch_size"] = self.batch_size
        if self.pause:
            kwargs["pause"] = self.pause
        return name, args, kwargs

    def database_forwards(
        self,
        app_label: str,
        schema_editor: BaseDatabaseSchemaEditor,
        from_state: ProjectState,
        to_state: ProjectState,
    ) -> None:
        if schema_editor.connection.vendor != "postgresql":
            model = to_state.apps.get_model(app_label, self.model_name)
            if self.allow_migrate_model(schema_editor.connection.alias, model):
                field = model._meta.get_field(self.name)
                self.before_constraints(schema_editor, model, field, field)
        super().database_forwards(app_label, schema_editor, from_state, to_state)

    def before_constraints(
        self,
        schema_editor: BaseDatabaseSchemaEditor,
        model: type[models.Model],
        old_field: AnyField,
        new_field: AnyField,
    ) -> None:
        field = new_field
        label = f"Backfilling {model._meta.label}.{field.name}"
        postgresql = schema_editor.connection.vendor == "postgresql"
        if schema_editor.collect_sql:
            if postgresql and self.batch_size is None:
                size = f"of about {batches.BATCH_SECONDS * 1000:g} ms"
            else:
                size = f"of {self.batch_size or batches.DEFAULT_BATCH_SIZE} rows"
            schema_editor.collected_sql.append(
                f"-- Fill {model._meta.db_table}.{field.column} where it is NULL, "
                f"row by row, in batches {size}, each a transaction of its own"
            )
            if postgresql:
                backfill = _Backfill(schema_editor, model, field)
                schema_editor.collected_sql.append(f"-- {backfill.describe()}")
            return
        if not postgresql:
            manager = model._base_manager.using(schema_editor.connection.alias)

            def fill(rows: list[models.Model]) -> None:
                for row in rows:
                    setattr(row, field.attname, field.get_default())
                manager.bulk_update(rows, [field.name])

            batches.run_in_batches(
                manager.filter(**{f"{field.attname}__isnull": True}).only("pk"),
                fill,
                batch_size=self.batch_size or batches.DEFAULT_BATCH_SIZE,
                pause=self.pause,
                label=label,
                stream=deploy_output(),
            )
            return
        backfill = _Backfill(schema_editor, model, field)
        # Walk the primary key; the UPDATE itself skips the rows already
        # filled, so the walk needs no index on the column and locks no row
        # it doesn't change.
        batches.walk_in_batches(
            backfill.batch,
            using=schema_editor.connection.alias,
            total=backfill.rows(),
            batch_size=self.batch_size,
            pause=self.pause,
            label=label,
            stream=deploy_output(),
        )

    def describe(self) -> str:
        return (
            f"Fill field {self.name} on {self.model_name} row by row, then make it "
            "NOT NULL"
        )

    def default_name_fragment(self) -> str:
        return f"backfill_{self.model_name_lower}_{self.name_lower}"


# Defaults PostgreSQL can compute for each row itself, as the Python callable
# would: no value crosses the network.
_DATABASE_DEFAULTS: dict[Callable[[], Any], str] = {uuid.uuid4: "gen_random_uuid()"}
# The most rows a batch sends values for.
_MAX_VALUES_ROWS = 10_000


class _Backfill:
    """The statements that fill a column's NULL values on PostgreSQL, a batch
    of rows at a time, by increasing primary key.

    The values are the field's default, or, given ``source``, the values of
    that SQL expression (of another column) where they aren't NULL.
    """

    def __init__(
        self,
        schema_editor: BaseDatabaseSchemaEditor,
        model: type[models.Model],
        field: AnyField,
        source: str | None = None,
    ) -> None:
        self.connection = schema_editor.connection
        self.field = field
        quote = schema_editor.quote_name
        primary_key = model._meta.pk
        assert primary_key is not None
        self.primary_key = primary_key
        self.table = quote(model._meta.db_table)
        self.column = quote(str(field.column))
        self.key = quote(str(primary_key.column))
        self.expression = _DATABASE_DEFAULTS.get(field.default)
        self.condition = ""
        if source is not None:
            self.expression = source
            self.condition = f" AND {source} IS NOT NULL"

    def rows(self) -> int:
        """Return how many rows the table has."""
        with self.connection.cursor() as cursor:
            cursor.execute(f"SELECT count(*) FROM {self.table}")
            (count,) = cursor.fetchone()
        return int(count)

    def batch(self, after: Any, size: int) -> tuple[Any, int]:
        """Fill the ``size`` rows after the key ``after``; return the last
        key and the number of rows."""
        with self.connection.cursor() as cursor:
            if self.expression is None:
                return self._fill_from_values(cursor, after, size)
            cursor.execute(self._batch_sql(after), [*self._after(after), size])
            last, count = cursor.fetchone()
            if count:
                # Bounds the planner sees: it walks the primary key's index
                # from one to the other, whatever it knows of the column.
                cursor.execute(self._fill_sql(after), [*self._after(after), last])
            return last, count

    def describe(self) -> str:
        """Return the statements of a batch, for sqlmigrate."""
        if self.expression is not None:
            return f"{self._batch_sql(None)}; {self._fill_sql(None)}"
        return f"{self._batch_sql(None)}; {self._values_sql(1)}"

    def _after(self, after: Any) -> list[Any]:
        return [] if after is None else [after]

    def _batch_sql(self, after: Any) -> str:
        """Return the query of the keys of a batch, or of its last key and size
        if the database computes the values."""
        following = "" if after is None else f"WHERE {self.key} > %s "
        keys = (
            f"SELECT {self.key} FROM {self.table} {following}"
            f"ORDER BY {self.key} LIMIT %s"
        )
        if self.expression is None:
            return keys
        return f"SELECT max({self.key}), count(*) FROM ({keys}) AS batch"

    def _fill_sql(self, after: Any) -> str:
        following = "" if after is None else f"{self.key} > %s AND "
        return (
            f"UPDATE {self.table} SET {self.column} = {self.expression} "
            f"WHERE {following}{self.key} <= %s AND {self.column} IS NULL"
            f"{self.condition}"
        )

    def _values_sql(self, rows: int) -> str:
        pk_type = self.primary_key.db_type(self.connection)
        value_type = self.field.db_type(self.connection)
        values = ", ".join([f"(%s::{pk_type}, %s::{value_type})"] * rows)
        # The key range lets the planner use the primary key's index.
        return (
            f"UPDATE {self.table} SET {self.column} = backfill.value "
            f"FROM (VALUES {values}) AS backfill (key, value) "
            f"WHERE {self.table}.{self.key} = backfill.key "
            f"AND {self.table}.{self.column} IS NULL "
            f"AND {self.table}.{self.key} BETWEEN %s AND %s"
        )

    def _fill_from_values(self, cursor: Any, after: Any, size: int) -> tuple[Any, int]:
        """Give each row of a batch its own default from Python, with one
        ``UPDATE ... FROM (VALUES ...)``.

        Much quicker than ``bulk_update``'s ``CASE``, which compares every row
        to every value of the batch.
        """
        # Two parameters a row: within what any driver binds.
        size = min(size, _MAX_VALUES_ROWS)
        cursor.execute(self._batch_sql(after), [*self._after(after), size])
        keys = [key for (key,) in cursor.fetchall()]
        if not keys:
            return None, 0
        params: list[Any] = []
        for key in keys:
            params.append(key)
            params.append(
                self.field.get_db_prep_save(self.field.get_default(), self.connection)
            )
        cursor.execute(self._values_sql(len(keys)), [*params, keys[0], keys[-1]])
        return keys[-1], len(keys)
