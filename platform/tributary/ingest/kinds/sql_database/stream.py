"""The first load of a SQL table streamed into the DuckDB warehouse while it is being read.

Why this exists: dlt writes every extracted row to Parquet files and loads them only once the
extraction has finished, so on a full load reading the source and DuckDB's insert run one after
the other, and the rows are written and read back once more in between. On TPC-H lineitem (6M
rows, docs/benchmarks.md) that file stage made Tributary's full load 2.5× as slow as DuckDB's own
postgres scanner. Here the batches go straight into the warehouse table as they arrive, while
background threads read the next ranges (``read.read_arrow``).

Only where it is safe: the first load of a table (dlt's schema has not seen data for it), when
that load reads every row and replaces the table (an incremental merge table's first load, a
``load: replace`` table's first load), into the DuckDB destination without staging, under the
``evolve`` schema contract (the others may drop values or fail a load on what they see). Every
other load, and everything else about this one, stays with dlt:

- dlt computes the table's schema from the Arrow schema of the first batch (and of any later
  batch whose Arrow schema differs), exactly as for rows it writes itself: it receives those
  batches' empty slices, so the schema, its ``_dlt_load_id`` column and the "seen data" mark are
  dlt's own, and the load package holds a zero-row file for the table;
- the table is created from that schema by dlt's own DDL (same types, same NOT NULL), and each
  batch is shaped by dlt's own Arrow normalization and gets the load id column dlt would add;
- dlt's load step then records the load (``_dlt_loads``), the schema version and the pipeline
  state with the cursor, as for any other load.

The one thing dlt records differently: that first load's write disposition is ``append`` (of
the zero-row file), because a ``replace`` would truncate the rows already in place. Nothing
compares a table's first load with earlier ones (there are none), and every later load records
its own disposition as before. That is also why later full loads (every ``load: replace`` after
the first) go through dlt's files: the volume check (``quality/volume.py``) judges a load by the
disposition recorded with it.

Crash safety: the table is dropped, created and filled in one DuckDB transaction, so a crash
while streaming leaves the previous table (if any) as it was. The cursor is committed only by
dlt's load step, after that transaction: a crash in between leaves a complete table and no
cursor, and the re-run either loads the pending package (recording the load and its cursor) or,
with the local state lost, reads everything again and replaces the table once more. Neither
loses nor doubles a row.

dlt counts rows from its files, so the rows streamed past them are recorded in the load
package's state (``ingest.pipeline.STREAMED``); ``ingest.pipeline.loaded_rows`` adds them to
dlt's counts.
"""

from collections.abc import Iterator
from contextlib import contextmanager, suppress
from itertools import chain
from typing import Any

import dlt
import duckdb
import pyarrow as pa
from dlt.common.libs.pyarrow import add_dlt_load_id_column, normalize_py_arrow_item
from dlt.common.schema.utils import has_table_seen_data
from dlt.dataset.utils import get_destination_clients

from tributary.ingest.pipeline import STREAMED

_BATCH_VIEW = "_tributary_batch"  # the name a batch is registered under for its INSERT


def can_stream(name: str) -> bool:
    """Whether this extraction may stream a full load of table ``name``: its first load into a
    DuckDB warehouse (see the module doc)."""
    try:
        pipeline = dlt.current.pipeline()
        schema = dlt.current.source_schema()
        package = dlt.current.load_package_state()
    except Exception:  # not inside a pipeline's extraction: a resource iterated by hand
        return False
    # A refresh drops or truncates tables in the load step, after the rows were streamed.
    refreshing = package["state"].get("dropped_tables") or package["state"].get("truncated_tables")
    table_name = schema.naming.normalize_table_identifier(name)
    known = schema.tables.get(table_name)
    contract = schema.resolve_contract_settings_for_table(table_name)
    return (
        not (known and has_table_seen_data(known))
        and pipeline.destination is not None
        and pipeline.destination.destination_type == "dlt.destinations.duckdb"
        and pipeline.staging is None
        and not refreshing
        and all(mode == "evolve" for mode in contract.values())
    )


def stream_full_load(name: str, batches: Iterator[pa.Table]) -> Iterator[Any]:
    """Replace table ``name`` with ``batches``, written straight into the warehouse.

    Runs inside the dlt resource of that table and yields what dlt should see instead of the
    rows: an empty table for every new Arrow schema among the batches. The resource must have set
    ``write_disposition="append"`` for this run. Nothing is replaced when no batch has rows.
    """
    runs = iter(_Runs(b for b in batches if b.num_rows))
    first = next(runs, None)
    if first is None:
        return
    yield first[0].empty_table()  # dlt computes the table's schema from it
    with replacing_table(name) as target:
        for number, (arrow_schema, run) in enumerate(chain([first], runs)):
            if number:
                # dlt sees each new Arrow shape, as it would have; new columns are added.
                yield arrow_schema.empty_table()
                target.add_new_columns()
            shaped = _as_dlt_writes(
                run, target.columns, target.schema, target.client, target.load_id
            )
            _insert(target.connection, target.qualified, shaped, target.done)


class Target:
    """The warehouse table a streamed load replaces, inside the transaction that replaces it."""

    def __init__(self, name: str, client: Any):
        self.schema = client.schema
        self.load_id = dlt.current.load_package_state()["load_id"]
        self.name = self.schema.naming.normalize_table_identifier(name)
        self.client = client
        self.qualified = client.sql_client.make_qualified_table_name(self.name)
        self.columns = self.schema.get_table_columns(self.name)
        self.done = {"rows": 0, "bytes": 0}

    @property
    def connection(self) -> duckdb.DuckDBPyConnection:
        return self.client.sql_client.native_connection

    def create(self) -> None:
        self.client.sql_client.execute_sql(f"DROP TABLE IF EXISTS {self.qualified}")
        self._execute(_table_sql(self.client, self.name, self.columns.values(), exists=False))

    def add_new_columns(self) -> None:
        """Columns dlt's schema gained since (from a new Arrow shape), added to the table."""
        known, self.columns = self.columns, self.schema.get_table_columns(self.name)
        added = [c for n, c in self.columns.items() if n not in known]
        self._execute(_table_sql(self.client, self.name, added, exists=True))

    def _execute(self, statements: list[str]) -> None:
        for statement in statements:
            self.client.sql_client.execute_sql(statement)


@contextmanager
def replacing_table(name: str) -> Iterator[Target]:
    """Table ``name`` dropped and created from dlt's schema (which must know it by now) in one
    warehouse transaction, committed when the block ends; its rows and bytes (``done``) are
    recorded in the load package's state."""
    pipeline = dlt.current.pipeline()
    schema = dlt.current.source_schema()
    client, _ = get_destination_clients(
        schema, destination=pipeline.destination, destination_dataset_name=pipeline.dataset_name
    )
    with client:
        client.initialize_storage()  # the dataset's schema, on a first load
        target = Target(name, client)
        with client.sql_client.begin_transaction():
            target.create()
            yield target
    dlt.current.load_package_state()["state"].setdefault(STREAMED, {})[target.name] = target.done


def _table_sql(client: Any, table_name: str, columns: Any, exists: bool) -> list[str]:
    """dlt's own CREATE TABLE (or ALTER TABLE … ADD COLUMN) for these schema columns.

    dlt has no public call for it, and the table must be exactly the one its load would create:
    tests/integration/test_sql_stream.py compares the two, so a change in dlt shows there.
    """
    columns = list(columns)
    if not columns:
        return []
    return client._get_table_update_sql(table_name, columns, exists)


def _as_dlt_writes(
    batches: Iterator[pa.Table], columns: Any, schema: Any, client: Any, load_id: str
) -> Iterator[pa.Table]:
    """Batches shaped as dlt writes them to its files: names normalized, columns in the
    schema's order and types, the ``_dlt_load_id`` column added."""
    caps = client.capabilities
    for batch in batches:
        batch = normalize_py_arrow_item(batch, columns, schema.naming, caps)
        yield add_dlt_load_id_column(batch, columns, caps, schema.naming, load_id)


class _Runs:
    """Batches cut into runs of one Arrow schema: (schema, the run's batches) in turn.

    A batch is fetched only when the consumer asks for one, and not kept after it is handed over
    (a batch is a slice of a whole range read: keeping one would keep the range).
    """

    def __init__(self, batches: Iterator[pa.Table]):
        self._batches = batches
        self._next: pa.Table | None = None

    def __iter__(self) -> Iterator[tuple[pa.Schema, Iterator[pa.Table]]]:
        while self._peek() is not None:
            yield self._next.schema, self._run(self._next.schema)

    def _peek(self) -> pa.Table | None:
        if self._next is None:
            self._next = next(self._batches, None)
        return self._next

    def _run(self, schema: pa.Schema) -> Iterator[pa.Table]:
        while (batch := self._peek()) is not None and batch.schema.equals(schema):
            self._next = None
            yield batch
            del batch


def _insert(con: Any, qualified: str, tables: Iterator[pa.Table], done: dict[str, int]) -> None:
    """One INSERT pulling every table as DuckDB consumes them.

    One statement, not one per batch: many INSERTs in one transaction took twice the time and
    twice the memory here (DuckDB keeps them as transaction-local data until the commit).
    """
    head = next(tables, None)
    if head is None:
        return
    arrow_schema, handed = head.schema, [head]  # handed over, not held here
    del head
    failed: list[BaseException] = []

    def batches() -> Iterator[pa.RecordBatch]:
        try:
            for table in chain(_taken(handed), tables):
                done["rows"] += table.num_rows
                done["bytes"] += table.nbytes
                yield from table.to_batches()
        except BaseException as exc:  # DuckDB would report it as its own error, text only
            failed.append(exc)
            raise

    reader = pa.RecordBatchReader.from_batches(arrow_schema, batches())
    con.register(_BATCH_VIEW, reader)
    try:
        con.execute(f"INSERT INTO {qualified} BY NAME SELECT * FROM {_BATCH_VIEW}")
    except Exception:
        if failed:
            raise failed[0] from None
        raise
    finally:
        with suppress(duckdb.Error):  # fails in an aborted transaction, rolled back anyway
            con.unregister(_BATCH_VIEW)


def _taken(items: list[Any]) -> Iterator[Any]:
    while items:
        yield items.pop()
