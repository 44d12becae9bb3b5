"""Data migrations as real projects write them: iterating querysets on
server-side cursors, opening atomic blocks, running raw SQL, inside atomic
and non-atomic migrations."""

from __future__ import annotations

from typing import Any

from django.db import transaction

# lock_timeout as the data migrations saw it, on PostgreSQL.
seen_lock_timeouts: list[str] = []


def _record_lock_timeout(connection: Any) -> None:
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute("SHOW lock_timeout")
            seen_lock_timeouts.append(cursor.fetchone()[0])


def number_items(apps: Any, schema_editor: Any) -> None:
    """Iterate on a server-side cursor as the first query of the transaction."""
    Item = apps.get_model("alpha", "Item")
    alias = schema_editor.connection.alias
    for position, item in enumerate(
        Item.objects.using(alias).order_by("pk").iterator(chunk_size=7)
    ):
        item.position = position
        item.save(update_fields=["position"])
    _record_lock_timeout(schema_editor.connection)


def unnumber_items(apps: Any, schema_editor: Any) -> None:
    Item = apps.get_model("alpha", "Item")
    alias = schema_editor.connection.alias
    for item in Item.objects.using(alias).iterator(chunk_size=7):
        item.position = None
        item.save(update_fields=["position"])


def seed_items(apps: Any, schema_editor: Any) -> None:
    Item = apps.get_model("alpha", "Item")
    alias = schema_editor.connection.alias
    Item.objects.using(alias).bulk_create(
        Item(name=f"item {number}") for number in range(20)
    )


def unseed_items(apps: Any, schema_editor: Any) -> None:
    Item = apps.get_model("alpha", "Item")
    Item.objects.using(schema_editor.connection.alias).all().delete()


def label_items(apps: Any, schema_editor: Any) -> None:
    """Outside a transaction: iterate, then write in atomic blocks and with
    raw SQL, as a non-atomic data migration does."""
    Item = apps.get_model("alpha", "Item")
    connection = schema_editor.connection
    names = [
        item.name
        for item in Item.objects.using(connection.alias).order_by("pk").iterator(2)
    ]
    for name in names:
        with transaction.atomic(using=connection.alias):
            item = (
                Item.objects.using(connection.alias).select_for_update().get(name=name)
            )
            item.label = name.upper()
            item.save(update_fields=["label"])
            _record_lock_timeout(connection)
            # A savepoint of its own, rolled back, leaves the row as it is.
            try:
                with transaction.atomic(using=connection.alias):
                    Item.objects.using(connection.alias).filter(pk=item.pk).update(
                        label="rolled back"
                    )
                    raise _RollBack
            except _RollBack:
                pass
    with connection.cursor() as cursor:
        cursor.execute(
            "UPDATE alpha_item SET label = label || %s WHERE position IS NOT NULL",
            ["!"],
        )


def unlabel_items(apps: Any, schema_editor: Any) -> None:
    with schema_editor.connection.cursor() as cursor:
        cursor.execute("UPDATE alpha_item SET label = NULL")


class _RollBack(Exception):
    pass
