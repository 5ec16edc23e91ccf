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

Three more changes only make moto faster; each gives the same response it
replaces (the import benchmark sends millions of requests through here, and
moto spends most of its time on these, not on DynamoDB's semantics):

4. DynamoDB results are written as JSON directly. moto runs every result
   through a generic, shape-driven serializer, attribute by attribute: over a
   third of its time in a bulk import. A DynamoDB result is already in the
   wire's shape once binary values are base64 and timestamps are epoch
   seconds. With STRATA_MOTO_VERIFY_FAST_JSON set, both are computed, every
   difference is printed as `fast json differs` and moto's own is answered.

5. An item's size is checked once. moto re-adds the sizes of all attributes
   already set each time it sets one (quadratic in the attribute count); the
   sum of all of them is the same test, as sizes are never negative.

6. The service a host name belongs to is looked up once per host, not by
   listing moto's package directory on every request.
"""

import base64
import copy
import datetime
import functools
import json
import os
import sys
import threading

import moto.dynamodb.models as dynamodb_models
from moto.core.serialize import TimestampSerializer
from moto.dynamodb.models import DynamoDBBackend
from moto.dynamodb.models.dynamo_type import (
    DynamoType,
    Item,
    ItemSizeTooLarge,
    LimitedSizeDict,
)
from moto.dynamodb.models.table import Table
from moto.dynamodb.responses import DynamoResult
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


def _wire(value):
    if isinstance(value, dict):
        return {k: _wire(v) for k, v in value.items() if v is not None}
    if isinstance(value, list):
        return [_wire(v) for v in value]
    if isinstance(value, (bytes, bytearray)):
        return base64.b64encode(value).decode("ascii")
    if isinstance(value, datetime.datetime):
        return TimestampSerializer._timestamp_unixtimestamp(value)
    return value


_OUTPUT_MEMBERS = {}


def _output_members(operation_model):
    name = operation_model.name
    if name not in _OUTPUT_MEMBERS:
        shape = operation_model.output_shape
        _OUTPUT_MEMBERS[name] = frozenset(shape.members) if shape is not None else frozenset()
    return _OUTPUT_MEMBERS[name]


_moto_execute_result = DynamoResult.execute_result
_VERIFY_FAST_JSON = bool(os.environ.get("STRATA_MOTO_VERIFY_FAST_JSON"))


def _execute_result(self, context):
    if not isinstance(self.result, dict) or context.service_model.protocol != "json":
        return _moto_execute_result(self, context)
    json_version = context.service_model.metadata.get("jsonVersion", "1.0")
    headers = {"Content-Type": f"application/x-amz-json-{json_version}"}
    # moto's results may carry keys the operation does not return (DeleteItem's
    # ConsumedCapacityUnits); the serializer writes only the output's members.
    members = _output_members(context.operation_model)
    result = {k: v for k, v in self.result.items() if k in members}
    body = json.dumps(_wire(result))
    if _VERIFY_FAST_JSON:
        status, moto_headers, moto_body = _moto_execute_result(self, context)
        if (status, moto_headers, json.loads(moto_body)) != (200, headers, json.loads(body)):
            print(
                f"fast json differs: {context.operation_model.name}\n"
                f"  moto: {status} {moto_headers} {moto_body}\n"
                f"  fast: 200 {headers} {body}",
                file=sys.stderr,
                flush=True,
            )
            return status, moto_headers, moto_body
    return 200, headers, body


def _item_init(self, hash_key, range_key, attrs):
    self.hash_key = hash_key
    self.range_key = range_key
    values = {key: DynamoType(value) for key, value in attrs.items()}
    size = sum(len(key.encode("utf-8")) + value.size() for key, value in values.items())
    # moto's limit (LimitedSizeDict): between DynamoDB's 400 KB and the ~410 KB it accepts.
    if size > 405000:
        raise ItemSizeTooLarge
    self.attrs = LimitedSizeDict()
    dict.update(self.attrs, values)


DynamoResult.execute_result = _execute_result
Item.__init__ = _item_init
DomainDispatcherApplication.get_backend_for_host = functools.lru_cache(maxsize=None)(
    DomainDispatcherApplication.get_backend_for_host
)


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
