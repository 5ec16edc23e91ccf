"""moto's server for the tests, with two changes that keep DynamoDB's semantics.

1. One request at a time. moto's own `moto_server` serves requests on many
   threads, and its DynamoDB backend does not lock an item between checking a
   condition and writing it: concurrent conditional writes then lose updates
   that real DynamoDB would refuse. A lock around the application serialises
   requests, as DynamoDB's per-item atomicity requires. Connections keep
   their own threads: a single-threaded server would serve one keep-alive
   connection until it idles out while the client's other connections wait.

2. Transactions roll back item by item. moto snapshots every table a
   TransactWriteItems touches with a deep copy of the whole table, so each
   transaction costs time in proportion to the table's size and a bulk import
   slows to a crawl as the table grows. A transaction can only change the
   items it names, so snapshotting those items gives the same rollback.

3. A base-table Query reads its partition. moto sorts every item of the table
   and then keeps those with the queried partition key; the partition's own
   items, sorted the same way, are the same result.
"""

import copy
import os
import sys
import threading

import moto.dynamodb.models as dynamodb_models
from moto.dynamodb.models import DynamoDBBackend
from moto.dynamodb.models.table import Table
from moto.moto_server.werkzeug_app import (
    DomainDispatcherApplication,
    MotoRequestHandler,
    create_backend_app,
)
from werkzeug.serving import run_simple


class _TablesByReference:
    """Stands in for the `copy` module inside moto's DynamoDB backend: a whole
    table is not copied (the items are saved instead), anything else is."""

    @staticmethod
    def deepcopy(value, memo=None):
        if isinstance(value, Table):
            return value
        return copy.deepcopy(value, memo)


def _named_items(backend, transact_items):
    """(table, hash value, range value, deep copy of the item or None) for
    every item a transaction names; malformed entries are left for moto to
    reject."""
    saved = []
    for entry in transact_items:
        try:
            _, op = next(iter(entry.items()))
            table = backend.tables[op["TableName"]]
            attrs = op["Item"] if "Item" in op else op["Key"]
            key = {table.hash_key_attr: attrs[table.hash_key_attr]}
            if table.range_key_attr is not None:
                key[table.range_key_attr] = attrs[table.range_key_attr]
            hash_value, range_value = backend.get_keys_value(table, key)
        except Exception:  # noqa: BLE001 - moto reports the malformed request itself
            continue
        current = table.get_item(hash_value, range_value)
        saved.append((table, hash_value, range_value, copy.deepcopy(current)))
    return saved


def _restore(saved):
    for table, hash_value, range_value, item in reversed(saved):
        if item is None:
            table.delete_item(hash_value, range_value)
        elif range_value is not None:
            table.items[hash_value][range_value] = item
        else:
            table.items[hash_value] = item


_moto_transact_write_items = DynamoDBBackend.transact_write_items


def _transact_write_items(self, transact_items):
    saved = _named_items(self, transact_items)
    try:
        return _moto_transact_write_items(self, transact_items)
    except Exception:
        _restore(saved)
        raise


_moto_query = Table.query
_moto_all_items = Table.all_items
# moto's Table.query(hash_key, range_comparison, range_objs, limit,
# exclusive_start_key, scan_index_forward, projection_expressions, index_name, ...)
_INDEX_NAME_ARG = 7


def _query(self, *args, **kwargs):
    index_name = kwargs.get("index_name", args[_INDEX_NAME_ARG] if len(args) > _INDEX_NAME_ARG else None)
    if index_name is not None:
        return _moto_query(self, *args, **kwargs)
    self._strata_partition = args[0] if args else kwargs.get("hash_key")
    try:
        return _moto_query(self, *args, **kwargs)
    finally:
        self._strata_partition = None


def _all_items(self):
    partition = getattr(self, "_strata_partition", None)
    if partition is None:
        return _moto_all_items(self)
    if partition not in self.items:
        return []
    stored = self.items[partition]
    items = list(stored.values()) if self.range_key_attr else [stored]
    return sorted(
        items,
        key=lambda x: (x.hash_key, x.range_key) if x.range_key else x.hash_key,
    )


Table.query = _query
Table.all_items = _all_items
dynamodb_models.copy = _TablesByReference
DynamoDBBackend.transact_write_items = _transact_write_items

class _OneRequestAtATime:
    def __init__(self, app):
        self._app = app
        self._lock = threading.Lock()

    def __call__(self, environ, start_response):
        with self._lock:
            # The body is produced inside the lock: moto builds it while handling.
            return list(self._app(environ, start_response))


port = int(sys.argv[1])
os.environ.setdefault("MOTO_PORT", str(port))
run_simple(
    "127.0.0.1",
    port,
    _OneRequestAtATime(DomainDispatcherApplication(create_backend_app)),
    threaded=True,
    request_handler=MotoRequestHandler,
)
