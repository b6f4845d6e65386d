"""Declarative SQL sources on SQLite, PostgreSQL and MariaDB, against real databases.

Custom queries with their own cursor, shards appearing over time, soft-delete flags and vanished
keys (removed or kept flagged), whole-database discovery written into the source file, the
backend choice with its fallback, bounded batches, and every option checked with a useful message.
"""

import datetime as dt
import threading
import time
import uuid
from decimal import Decimal
from pathlib import Path

import connectorx
import duckdb
import pyarrow as pa
import pytest
import sqlalchemy as sa

from tributary.contracts.source import SourceSpec, SpecErrors, load_spec
from tributary.ingest.kinds.sql_database.discover import discover, with_tables
from tributary.ingest.kinds.sql_database.read import (
    RANGE_BATCHES,
    column_hints,
    pick_backend,
    read_arrow,
)
from tributary.ingest.pipeline import loaded_rows, pipeline_for
from tributary.ingest.sources import build_source
from tributary.settings import Settings

T0 = dt.datetime(2024, 1, 1)
T1 = dt.datetime(2024, 2, 1)


def shop_tables(schema: str | None) -> tuple[sa.MetaData, sa.Table, list[sa.Table]]:
    metadata = sa.MetaData(schema=schema)
    customers = sa.Table(
        "customers",
        metadata,
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=False),
        sa.Column("name", sa.String(50), nullable=False),
        sa.Column("is_deleted", sa.Boolean),  # TINYINT(1) on MariaDB: read as a boolean
        sa.Column("updated_at", sa.DateTime),
    )
    events = [
        sa.Table(
            f"events_{year}",
            metadata,
            sa.Column("event_id", sa.Integer, primary_key=True, autoincrement=False),
            sa.Column("kind", sa.String(20)),
            sa.Column("updated_at", sa.DateTime),
        )
        for year in (2024, 2025, 2026)
    ]
    return metadata, customers, events


def shop_spec(url: str, schema: str | None) -> SourceSpec:
    customers = f"{schema}.customers" if schema else "customers"
    table = {"primary_key": "id", "incremental": "updated_at"}
    return SourceSpec.model_validate(
        {
            "name": "shop",
            "kind": "sql_database",
            "sql_database": {
                "credentials": "${SHOP_URL}",
                "schema": schema,
                "chunk_size": 2,  # many batches even on tiny tables
                "tables": [
                    {"name": "customers", **table, "deleted_flag": "is_deleted"}
                    | {"detect_deletes": True},
                    {"name": "customers_soft", "table": "customers", **table}
                    | {"deleted_flag": "is_deleted", "deletes": "soft", "detect_deletes": True},
                    {"name": "customers_vanished", "table": "customers", **table}
                    | {"detect_deletes": True, "deletes": "soft"},
                    {"name": "events", "shards": "events_20[0-9][0-9]"}
                    | {"primary_key": "event_id", "incremental": "updated_at"},
                    {"name": "recent", **table}
                    | {"query": f"select id, name, updated_at from {customers} where id > 2"},
                ],
            },
        }
    )


def load(spec: SourceSpec, settings: Settings, url: str) -> dict[str, int]:
    pipeline = pipeline_for(spec, settings)
    pipeline.run(build_source(spec, environ={"SHOP_URL": url})).raise_on_failed_jobs()
    counts = loaded_rows(pipeline)  # dlt's counts and the rows streamed past its files
    return {t: n for t, n in counts.items() if n and not t.startswith("_dlt")}


def rows(settings: Settings, table: str, columns: str) -> dict:
    with duckdb.connect(str(settings.warehouse), read_only=True) as con:
        found = con.execute(f"select {columns} from raw_shop.{table} order by 1").fetchall()
    return {r[0]: r[1:] if len(r) > 2 else r[1] for r in found}


def test_queries_shards_and_deletes_follow_the_source(database, settings):
    url, schema = database
    metadata, customers, events = shop_tables(schema)
    engine = sa.create_engine(url)
    with engine.begin() as con:
        if schema:
            con.execute(sa.schema.CreateSchema(schema))
        metadata.create_all(con, tables=[customers, *events[:2]])
        con.execute(
            customers.insert(),
            [
                {"id": i, "name": f"c{i}", "is_deleted": i == 2, "updated_at": T0 + dt.timedelta(i)}
                for i in range(1, 7)
            ],
        )
        con.execute(
            events[0].insert(), [{"event_id": i, "kind": "a", "updated_at": T0} for i in (1, 2)]
        )
        con.execute(events[1].insert(), [{"event_id": 3, "kind": "b", "updated_at": T0}])
    spec = shop_spec(url, schema)

    first = load(spec, settings, url)
    # The flagged row never reaches the hard-delete table, even on the first (replacing) load.
    assert set(rows(settings, "customers", "id, name")) == {1, 3, 4, 5, 6}
    assert rows(settings, "customers_soft", "id, is_deleted") == {i: i == 2 for i in range(1, 7)}
    assert rows(settings, "events", "event_id, _source_table") == {
        1: "events_2024",
        2: "events_2024",
        3: "events_2025",
    }
    assert set(rows(settings, "recent", "id, name")) == {3, 4, 5, 6}
    assert first["recent"] == 4

    with engine.begin() as con:
        con.execute(
            customers.update().where(customers.c.id == 3).values(is_deleted=True, updated_at=T1)
        )
        con.execute(customers.delete().where(customers.c.id == 4))
        con.execute(customers.update().where(customers.c.id == 5).values(name="c5b", updated_at=T1))
        con.execute(
            customers.insert(), [{"id": 7, "name": "c7", "is_deleted": False, "updated_at": T1}]
        )
        metadata.create_all(con, tables=[events[2]])  # a new yearly shard
        con.execute(events[2].insert(), [{"event_id": 9, "kind": "c", "updated_at": T1}])

    second = load(spec, settings, url)
    assert rows(settings, "customers", "id, name") == {1: "c1", 5: "c5b", 6: "c6", 7: "c7"}
    # soft: 2 and 3 flagged at the source, 4 vanished and flagged in the same column
    flagged = rows(settings, "customers_soft", "id, is_deleted")
    assert {i for i, deleted in flagged.items() if deleted} == {2, 3, 4}
    assert set(flagged) == set(range(1, 8))
    vanished = rows(settings, "customers_vanished", "id, _deleted, name")
    assert {i for i, (deleted, _) in vanished.items() if deleted} == {4}
    assert vanished[4][1] == "c4"  # kept as it was, only flagged
    assert rows(settings, "events", "event_id, _source_table")[9] == "events_2026"
    # The query's own cursor: only rows changed since the first run are read again.
    assert second["recent"] == 3
    assert rows(settings, "recent", "id, name")[5] == "c5b"

    # Nothing changed: nothing is loaded, flagged rows are not flagged again.
    assert load(spec, settings, url) == {}


def test_whole_database_is_discovered_into_the_source_file(tmp_path):
    url = f"sqlite:///{tmp_path / 'wms.sqlite'}"
    engine = sa.create_engine(url)
    metadata = sa.MetaData()
    stamp = sa.Column("updated_at", sa.DateTime)
    sa.Table("Customers", metadata, sa.Column("id", sa.Integer, primary_key=True), stamp)
    sa.Table(
        "order_lines",
        metadata,
        sa.Column("order_id", sa.Integer, primary_key=True),
        sa.Column("line_no", sa.Integer, primary_key=True),
    )
    sa.Table("audit", metadata, sa.Column("message", sa.String(50)))
    sa.Table("tmp_scratch", metadata, sa.Column("x", sa.Integer))
    metadata.create_all(engine)
    with engine.begin() as con:
        for table in metadata.sorted_tables:
            con.execute(table.insert(), [dict.fromkeys(table.c.keys(), 1) | {"updated_at": T0}])
    sources = tmp_path / "sources"
    sources.mkdir()
    path = sources / "wms.yaml"
    path.write_text(
        "# Warehouse system: every table but the scratch ones.\n"
        "name: wms\nkind: sql_database\nsql_database:\n  credentials: ${WMS_URL}\n"
        "  discover:\n    exclude: ['tmp_*']\n    incremental: updated_at\n",
        encoding="utf-8",
    )
    settings = Settings.from_env(
        {"TRIBUTARY_DATA_DIR": str(tmp_path / "data"), "TRIBUTARY_SOURCES_DIR": str(sources)}
    )
    with pytest.raises(SpecErrors, match="run `tributary discover <source>`"):
        load_spec(path)

    assert discover(settings, "wms", environ={"WMS_URL": url}) == 0
    text = path.read_text(encoding="utf-8")
    assert text.startswith("# Warehouse system")  # the file is edited, not rewritten
    spec = load_spec(path)
    tables = {t.name: t for t in spec.sql_database.tables}
    assert list(tables) == ["customers", "audit", "order_lines"]  # the catalog's order
    assert tables["customers"].table == "Customers"
    assert tables["customers"].primary_key == "id"
    assert tables["customers"].incremental == "updated_at"
    assert tables["order_lines"].primary_key == ["order_id", "line_no"]
    assert tables["audit"].primary_key is None and tables["audit"].incremental is None

    # Run again: nothing new, the file stays as it is; a new table is found by --check.
    assert discover(settings, "wms", environ={"WMS_URL": url}) == 0
    assert path.read_text(encoding="utf-8") == text
    with engine.begin() as con:
        con.execute(sa.text("create table returns (id integer primary key)"))
        con.execute(sa.text("insert into returns values (1)"))
    assert spec.sql_database.undeclared(sa.inspect(engine).get_table_names()) == ["returns"]
    assert discover(settings, "wms", check=True, environ={"WMS_URL": url}) == 1
    assert path.read_text(encoding="utf-8") == text
    assert discover(settings, "wms", environ={"WMS_URL": url}) == 0
    assert "returns" in load_spec(path).table_names()

    pipeline = pipeline_for(load_spec(path), settings)
    spec = load_spec(path)
    pipeline.run(build_source(spec, environ={"WMS_URL": url})).raise_on_failed_jobs()
    with duckdb.connect(str(settings.warehouse), read_only=True) as con:
        loaded = {
            r[0]
            for r in con.execute(
                "select table_name from information_schema.tables where table_schema = 'raw_wms'"
            ).fetchall()
        }
    assert {"customers", "audit", "order_lines", "returns"} <= loaded


def test_discovered_tables_are_appended_without_touching_the_rest():
    entry = [{"name": "b", "primary_key": "id"}]
    block = "kind: sql_database\nsql_database:\n  # keep me\n  tables:\n    - name: a\n"
    assert with_tables(block + "name: x\n", entry) == (
        block + "    - name: b\n      primary_key: id\nname: x\n"
    )
    empty = "sql_database:\n  credentials: u\n  tables: []\n"
    assert with_tables(empty, entry) == (
        "sql_database:\n  credentials: u\n  tables:\n    - name: b\n      primary_key: id\n"
    )
    absent = "sql_database:\n  credentials: u\n"
    assert with_tables(absent, entry).endswith("  tables:\n    - name: b\n      primary_key: id\n")
    with pytest.raises(ValueError, match="block list"):
        with_tables("sql_database:\n  tables: [{name: a}]\n", entry)


def spec_file(tmp_path: Path, table: str, database: str = "") -> Path:
    path = tmp_path / "erp.yaml"
    path.write_text(
        "name: erp\nkind: sql_database\nsql_database:\n  credentials: ${ERP_URL}\n"
        + database
        + ("  tables:\n    - " + table.replace("\n", "\n      ") + "\n" if table else ""),
        encoding="utf-8",
    )
    return path


@pytest.mark.parametrize(
    ("table", "database", "message"),
    [
        ("name: a\nquery: select 1\nshards: a_*", "", "give one of `table`, `shards` or `query`"),
        ("name: a\nprimary_key: id\ndeletes: soft", "", "add `deleted_flag` or `detect_deletes"),
        ("name: a\nincremental: t\nload: replace", "", "remove one of them"),
        ("name: a\nprimary_key: id\nincremental: t\nload: scd2", "", "remove `incremental`"),
        ("name: a\ndeleted_flag: gone", "", "this table loads by replace"),
        ("name: a\nload: merge", "", "merge needs a primary_key"),
        ("name: a\ninitial_value: 3", "", "`initial_value` needs `incremental`"),
        ("", "  tables: '*'\n", "give `discover: {include: ['*']}`"),
        ("", "  discover: {include: ['*']}\n", "run `tributary discover <source>`"),
        ("", "  tables: [{name: a}, {name: a}]\n", "table name(s) given twice: a"),
        ("name: a", "  backend: conectorx\n", "'auto', 'connectorx' or 'pyarrow'"),
    ],
)
def test_conflicting_options_are_rejected_with_a_clear_message(tmp_path, table, database, message):
    with pytest.raises(SpecErrors) as exc:
        load_spec(spec_file(tmp_path, table, database))
    assert message in str(exc.value)


def test_unknown_keys_get_their_line_and_a_did_you_mean(tmp_path):
    path = spec_file(tmp_path, "name: a\nprimary_key: id\ndetect_delete: true")
    with pytest.raises(SpecErrors) as exc:
        load_spec(path)
    [error] = exc.value.errors
    assert error.line == 8
    assert "did you mean `detect_deletes`" in error.fix
    path = spec_file(tmp_path, "name: a", "  discover: {exclude: [x], incremantal: t}\n")
    with pytest.raises(SpecErrors) as exc:
        load_spec(path)
    assert any("did you mean `incremental`" in e.fix for e in exc.value.errors)


def test_backend_is_connectorx_where_it_reads_the_engine_with_bounded_batches(
    postgres_url, monkeypatch
):
    assert pick_backend("auto", sa.make_url(postgres_url)) == "connectorx"
    assert pick_backend("auto", sa.make_url("mysql+pymysql://u@h/d")) == "connectorx"
    assert pick_backend("auto", sa.make_url("sqlite:///x.db")) == "pyarrow"
    with pytest.raises(ValueError, match="connectorx cannot read sqlite"):
        pick_backend("connectorx", sa.make_url("sqlite:///x.db"))

    engine = sa.create_engine(postgres_url)
    name = f"probe_{uuid.uuid4().hex[:8]}"
    # `money` is a type connectorx refuses (a Rust panic): the read falls back to pyarrow.
    with engine.begin() as con:
        con.execute(sa.text(f"create table {name} (id int, price money)"))
        con.execute(sa.text(f"insert into {name} select g, g from generate_series(1, 200) g"))
    try:
        table = sa.Table(name, sa.MetaData(), autoload_with=engine)
        for columns in (["id"], ["id", "price"]):
            for split_on in (None, table.c.id):  # one stream, or ranges read in threads
                statement = sa.select(*[table.c[c] for c in columns])
                batches = list(read_arrow(engine, statement, "connectorx", 7, {}, split_on, 2))
                assert max(b.num_rows for b in batches) == 7
                ids = [i for b in batches for i in b["id"].to_pylist()]
                assert ids == list(range(1, 201))

        # Split into ranges of a few batches, read whole by two threads, at most one range
        # ahead of a slow caller per thread: memory stays bounded, every row arrives once.
        started, running, most = [], [0], [0]
        lock = threading.Lock()
        read_sql = connectorx.read_sql

        def counted(*args, **kwargs):
            with lock:
                started.append(args[1])
                running[0] += 1
                most[0] = max(most[0], running[0])
            try:
                return read_sql(*args, **kwargs)
            finally:
                with lock:
                    running[0] -= 1

        monkeypatch.setattr(connectorx, "read_sql", counted)
        statement = sa.select(table.c.id)
        ids, started_at_first = [], None
        for batch in read_arrow(engine, statement, "connectorx", 7, {}, table.c.id, readers=2):
            started_at_first = started_at_first or len(started)
            time.sleep(0.01)  # a slow caller
            assert batch.num_rows <= 7
            ids += batch["id"].to_pylist()
        assert ids == list(range(1, 201))
        ranges = -(-200 // (RANGE_BATCHES * 7))  # of about RANGE_BATCHES batches each
        assert len(started) == ranges and most[0] <= 2  # two at a time
        assert started_at_first <= 3  # the first two ranges and the one queued after the first
        monkeypatch.undo()

        # Read in ranges or as one stream, the rows and their Arrow types are the same: numerics
        # travel as scaled integers and are rebuilt exactly, small integers and reals widen as
        # connectorx's stream widens them (tables keep the column types they always had).
        with engine.begin() as con:
            con.execute(sa.text(f"drop table {name}"))
            con.execute(
                sa.text(
                    f"create table {name} (id int primary key, s smallint, r real, "
                    "n numeric(8, 3), w numeric(30, 4), d date)"
                )
            )
            con.execute(
                sa.text(
                    f"insert into {name} select g, g % 100, g / 4.0, (g - 100) / 8.0, "
                    "g * 1000000000000.5, date '2024-01-01' + g from generate_series(1, 200) g"
                )
            )
            con.execute(
                sa.text(f"insert into {name} values (201, null, null, -99999.999, null, null)")
            )
        table = sa.Table(name, sa.MetaData(), autoload_with=engine)
        hints = column_hints(table)
        read = {
            split: pa.concat_tables(
                read_arrow(engine, sa.select(table), "connectorx", 7, hints, split, readers=2)
            )
            for split in (None, table.c.id)
        }
        assert read[None].equals(read[table.c.id])
        assert read[None].schema.field("s").type == pa.int64()
        assert read[None].schema.field("n").type == pa.decimal128(8, 3)
        assert read[None]["n"].to_pylist()[-1] == Decimal("-99999.999")
    finally:
        with engine.begin() as con:
            con.execute(sa.text(f"drop table {name}"))
        engine.dispose()
