"""moto's TransactWriteItems with a rollback that copies the items a transaction touches, not whole tables.

moto 5 backs up every table a transaction names with `copy.deepcopy(table)`, once per transaction item, so a
transaction's cost grows with the size of the tables: a 100-item transaction on a table of 50,000 contacts
copies it a hundred times (minutes), which makes the contacts import unusable on the local stack. DynamoDB
has no such cost. This keeps moto's own implementation (conditions, cancellation reasons, errors) and only
replaces the backup: the touched items are recorded before, and restored if the transaction is cancelled.

Only valid where moto answers one request at a time (smsdev.testing.serialised_moto / serialised_wsgi), which
is also the only way moto's transactions are atomic at all.
"""

from __future__ import annotations

import copy
import functools
import threading
from typing import Any

_installed = False
_lock = threading.Lock()


class _NoTableCopies:
    """Stands in for the `copy` module inside moto.dynamodb.models while a transaction runs: tables are not
    deep-copied (their backup is the item-level one below); everything else is copied as before."""

    def __init__(self, table_type: type) -> None:
        self._table_type = table_type

    def deepcopy(self, value: Any, memo: Any = None) -> Any:
        if isinstance(value, self._table_type):
            return value
        return copy.deepcopy(value, memo)

    def __getattr__(self, name: str) -> Any:
        return getattr(copy, name)


def _key_of(backend: Any, op_type: str, op: dict[str, Any]) -> dict[str, Any]:
    if op_type != "Put":
        key: dict[str, Any] = op["Key"]
        return key
    table = backend.get_table(op["TableName"])
    attrs = op["Item"]
    key = {table.hash_key_attr: attrs[table.hash_key_attr]}
    if table.range_key_attr is not None:
        key[table.range_key_attr] = attrs[table.range_key_attr]
    return key


def install() -> None:
    """Patch moto's DynamoDB backend once per process."""
    global _installed
    with _lock:
        if _installed:
            return
        from moto.core.exceptions import JsonRESTError
        from moto.dynamodb import models as moto_models
        from moto.dynamodb.models.table import Table

        models: Any = moto_models  # its `copy` import and backend class are patched: not typed for that
        original = models.DynamoDBBackend.transact_write_items

        @functools.wraps(original)
        def transact_write_items(self: Any, transact_items: list[dict[str, Any]]) -> None:
            before: list[tuple[str, dict[str, Any], dict[str, Any] | None]] = []
            for entry in transact_items:
                try:
                    op_type, op = next(iter(entry.items()))
                    key = _key_of(self, op_type, op)
                    current = self.get_item(op["TableName"], key)
                except (KeyError, StopIteration, JsonRESTError):
                    continue  # malformed or unknown table: moto's own code below refuses it, nothing to restore
                before.append(
                    (op["TableName"], key, copy.deepcopy(current.to_json()["Attributes"]) if current else None)
                )
            saved_copy = models.copy
            models.copy = _NoTableCopies(Table)
            try:
                original(self, transact_items)
            except BaseException:
                for table_name, key, attributes in reversed(before):
                    if attributes is None:
                        if self.get_item(table_name, key) is not None:
                            self.delete_item(table_name, key)
                    else:
                        self.put_item(table_name, attributes)
                raise
            finally:
                models.copy = saved_copy

        models.DynamoDBBackend.transact_write_items = transact_write_items
        _installed = True
