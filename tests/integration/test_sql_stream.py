"""First loads streamed into the DuckDB warehouse (``ingest/kinds/sql_database/stream.py``),
on SQLite, PostgreSQL and MariaDB.

The streamed load must leave what dlt's own load (Parquet files, then DuckDB) leaves: the same
table with the same columns, types and NOT NULLs, the same rows, a `_dlt_load_id` naming a
recorded load, the same dlt schema and cursor state (the one recorded difference: that first
load's write disposition), so the next incremental run and everything downstream cannot tell
them apart. And a crash at any point must neither lose nor double a row.
"""

import datetime as dt
import threading
from decimal import Decimal

import dlt
import duckdb
import pytest
import sqlalchemy as sa
from dlt.pipeline.exceptions import PipelineStepFailed

import tributary.ingest.kinds.sql_database.postgres_copy as sql_copy
import tributary.ingest.kinds.sql_database.source as sql_module
import tributary.ingest.kinds.sql_database.stream as sql_stream
from demo_enterprise import simulate, write_erp
from tributary.contracts.source import SourceSpec, load_spec
from tributary.ingest.pipeline import loaded_rows, pipeline_for, streamed
from tributary.ingest.sources import build_source
from tributary.settings import PROJECT_ROOT, Settings

T0 = dt.datetime(2024, 1, 1, 8, 30)


def typed_table(schema: str | None) -> sa.Table:
    """One column of every common kind, nulls included, and a camelCase name dlt normalizes."""
    return sa.Table(
        "typed",
        sa.MetaData(schema=schema),
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=False),
        sa.Column("big", sa.BigInteger),
        sa.Column("small", sa.SmallInteger, nullable=False),
        sa.Column("amount", sa.Numeric(12, 3)),
        sa.Column("ratio", sa.Float),
        sa.Column("share", sa.REAL),  # 4-byte floats on PostgreSQL
        sa.Column("label", sa.String(40), nullable=False),
        sa.Column("noteText", sa.Text),
        sa.Column("flag", sa.Boolean),
        sa.Column("day", sa.Date),
        sa.Column("updated_at", sa.DateTime, nullable=False),
        mysql_charset="utf8mb4",
    )


def typed_rows(count: int, start: int = 1, at: dt.datetime = T0) -> list[dict]:
    return [
        {
            "id": i,
            "big": None if i % 7 == 0 else i * 10**12,
            "small": i % 300,
            "amount": WIDEST if i == 0 else None if i % 5 == 0 else Decimal(i if i % 3 else -i) / 8,
            "ratio": i / 3,
            "share": i / 7,
            "label": LABELS[i % 11] if i % 11 < len(LABELS) else f"标签 {i}",
            "noteText": None if i % 4 == 1 else "" if i % 4 == 2 else f"note {i}",
            "flag": None if i % 6 == 0 else i % 2 == 0,
            "day": dt.date(2024, 1, 1) + dt.timedelta(days=i % 400),
            "updated_at": at + dt.timedelta(seconds=i // 3),  # some rows share a cursor value
        }
        for i in range(start, start + count)
    ]


# Text that CSV must quote (PostgreSQL's first loads travel as CSV: ``postgres_copy.py``).
LABELS = ["", 'say "hi", then', "two\nlines", "a,b;c\tx", "\\N NULL"]
# The widest value numeric(12, 3) holds, for row 0: decimals travel as scaled integers.
WIDEST = Decimal("-999999999.999")


def source(schema: str | None) -> SourceSpec:
    """The ERP source plus the typed table three ways (incremental, replaced each run, a query)
    and two shards of different shapes."""
    erp = load_spec(PROJECT_ROOT / "sources" / "erp.yaml")
    typed = f"{schema}.typed" if schema else "typed"
    tables = [t.model_dump(exclude_none=True) for t in erp.sql_database.tables] + [
        {"name": "typed", "primary_key": "id", "incremental": "updated_at"},
        {"name": "typed_replaced", "table": "typed", "load": "replace"},
        {"name": "typed_query", "primary_key": "id", "incremental": "updated_at"}
        | {"query": f"select id, label, updated_at from {typed} where id % 2 = 0"},
        # Shards of different shapes: the Arrow schema changes in the middle of the stream.
        {"name": "parts", "shards": "part_[ab]", "primary_key": "id", "incremental": "updated_at"},
    ]
    return SourceSpec.model_validate(
        {
            "name": "erp",
            "kind": "sql_database",
            "sql_database": {
                "credentials": "${ERP_URL}",
                "schema": schema,
                "chunk_size": 50,  # many batches, and ranges read by two threads
                "tables": tables,
            },
        }
    )


def run(spec: SourceSpec, settings: Settings, url: str):
    pipeline = pipeline_for(spec, settings)
    pipeline.run(build_source(spec, environ={"ERP_URL": url})).raise_on_failed_jobs()
    return pipeline


def run_without_streaming(spec: SourceSpec, settings: Settings, url: str, monkeypatch):
    with monkeypatch.context() as patch:
        patch.setattr(sql_module, "can_stream", lambda name: False)
        return run(spec, settings, url)


def warehouse(settings: Settings) -> duckdb.DuckDBPyConnection:
    return duckdb.connect(str(settings.warehouse), read_only=True)


def raw_tables(settings: Settings) -> list[str]:
    with warehouse(settings) as con:
        found = con.execute(
            "select table_name from information_schema.tables "
            "where table_schema = 'raw_erp' and table_name not like '\\_dlt%' escape '\\' "
            "order by 1"
        ).fetchall()
    return [r[0] for r in found]


def shape(settings: Settings, table: str) -> list[tuple]:
    """Columns in order with their type, nullability and default, as DuckDB has them."""
    with warehouse(settings) as con:
        return con.execute(
            "select column_name, data_type, is_nullable, column_default "
            "from information_schema.columns where table_schema = 'raw_erp' and table_name = ? "
            "order by ordinal_position",
            [table],
        ).fetchall()


def content(settings: Settings, table: str) -> list[tuple]:
    with warehouse(settings) as con:
        return con.execute(
            f"select * exclude (_dlt_load_id) from raw_erp.{table} order by all"
        ).fetchall()


def unrecorded_load_ids(settings: Settings, table: str) -> list[str]:
    """`_dlt_load_id`s of a table that no completed load recorded."""
    with warehouse(settings) as con:
        found = con.execute(
            f"select distinct _dlt_load_id from raw_erp.{table} where _dlt_load_id not in "
            "(select load_id from raw_erp._dlt_loads where status = 0)"
        ).fetchall()
    return [r[0] for r in found]


def dispositions(pipeline) -> dict[str, str]:
    """How dlt recorded each table's last load (the volume check reads it)."""
    tables = pipeline.default_schema.tables
    return {n: t.get("write_disposition") for n, t in tables.items() if not n.startswith("_dlt")}


def assert_same(streamed_settings: Settings, filed_settings: Settings, pipelines) -> None:
    ours, theirs = pipelines
    tables = raw_tables(filed_settings)
    assert raw_tables(streamed_settings) == tables
    for table in tables:
        assert shape(streamed_settings, table) == shape(filed_settings, table), table
        assert content(streamed_settings, table) == content(filed_settings, table), table
        assert unrecorded_load_ids(streamed_settings, table) == [], table
    assert loaded_rows(ours) == loaded_rows(theirs)
    for table in tables:
        mine, other = ours.default_schema.tables[table], theirs.default_schema.tables[table]
        assert mine["columns"] == other["columns"], table
        assert mine.get("x-normalizer") == other.get("x-normalizer"), table
    resources = ours.state["sources"]["erp"]["resources"]
    assert resources == theirs.state["sources"]["erp"]["resources"]  # the cursors


def write_typed(url: str, schema: str | None, rows: list[dict]) -> None:
    """(Re)create the typed table with these rows and the two shards (after write_erp, which on
    SQLite replaces the whole file)."""
    engine = sa.create_engine(url)
    metadata = sa.MetaData(schema=schema)
    typed = typed_table(schema)
    shards = [
        sa.Table(
            f"part_{name}",
            metadata,
            sa.Column("id", sa.Integer, primary_key=True, autoincrement=False),
            sa.Column("label", sa.String(20)),
            *([sa.Column("extra", sa.String(20))] if name == "b" else []),
            sa.Column("updated_at", sa.DateTime),
        )
        for name in "ab"
    ]
    with engine.begin() as con:
        typed.drop(con, checkfirst=True)
        typed.create(con)
        con.execute(typed.insert(), rows)
        for shard, first in zip(shards, (1, 1000), strict=True):
            shard.drop(con, checkfirst=True)
            shard.create(con)
            extra = {"extra": "x"} if "extra" in shard.c else {}
            con.execute(
                shard.insert(),
                [
                    {"id": i, "label": f"p{i}", "updated_at": T0} | extra
                    for i in range(first, first + 120)
                ],
            )
    engine.dispose()


def test_streamed_full_load_leaves_what_dlts_own_load_leaves(database, tmp_path, monkeypatch):
    url, schema = database
    write_erp(url, simulate(seed=5, scale=0.1, day=0), schema=schema)
    rows = typed_rows(701, start=0)
    write_typed(url, schema, rows)
    spec = source(schema)
    streamed_settings = Settings.from_env({"TRIBUTARY_DATA_DIR": str(tmp_path / "streamed")})
    filed_settings = Settings.from_env({"TRIBUTARY_DATA_DIR": str(tmp_path / "filed")})

    copied = []
    copy_full_load = sql_module.copy_full_load
    monkeypatch.setattr(
        sql_module,
        "copy_full_load",
        lambda name, *a: copied.append(name) or copy_full_load(name, *a),
    )
    ours = run(spec, streamed_settings, url)
    assert set(streamed(ours)) == set(raw_tables(streamed_settings))  # every table streamed
    # On PostgreSQL every plain table's first load is a COPY; a query and shards are read in Arrow.
    plain = set(raw_tables(streamed_settings)) - {"typed_query", "parts", "orders"}
    assert set(copied) == (plain if url.startswith("postgresql") else set())
    theirs = run_without_streaming(spec, filed_settings, url, monkeypatch)
    assert streamed(theirs) == {}
    # A first load is recorded as an append (of a zero-row file), not a replace: the rows
    # were in place before dlt's load step, which would truncate a replaced table.
    assert set(dispositions(ours).values()) == {"append"}
    assert set(dispositions(theirs).values()) == {"replace"}
    assert loaded_rows(ours)["typed"] == 701
    assert_same(streamed_settings, filed_settings, (ours, theirs))
    with warehouse(streamed_settings) as con:
        amounts = dict(con.execute("select id, amount from raw_erp.typed").fetchall())
    assert amounts == {r["id"]: r["amount"] for r in rows}  # exact, to the last digit

    # The next day: changed and new rows merge into the streamed tables exactly as into dlt's;
    # the replaced table is streamed again.
    write_erp(url, simulate(seed=5, scale=0.1, day=1), schema=schema)
    later = T0 + dt.timedelta(days=9)
    changed = [r | {"label": "changed", "updated_at": later} for r in rows[:30]]
    write_typed(url, schema, changed + rows[30:] + typed_rows(20, start=701, at=later))
    ours = run(spec, streamed_settings, url)
    assert streamed(ours) == {}  # later loads go through dlt's files, replaces included
    theirs = run_without_streaming(spec, filed_settings, url, monkeypatch)
    assert dispositions(ours) == dispositions(theirs)
    assert dispositions(ours)["typed_replaced"] == "replace"
    assert loaded_rows(ours)["typed"] == 50
    assert_same(streamed_settings, filed_settings, (ours, theirs))


def break_after(monkeypatch, batches: int) -> None:
    """Make the streaming of the next load fail once ``batches`` batches went in: Arrow batches,
    or on PostgreSQL (COPY) writes of CSV into a pipe, made small so that many go in first."""
    written = [0]
    shape_batch = sql_stream.add_dlt_load_id_column
    write = sql_copy._Counted.write

    def failing(*args, **kwargs):
        written[0] += 1
        if written[0] > batches:
            raise RuntimeError("the process dies")
        return shape_batch(*args, **kwargs)

    def failing_write(self, data):
        written[0] += 1
        if written[0] > batches:
            raise RuntimeError("the process dies")
        return write(self, data)

    monkeypatch.setattr(sql_stream, "add_dlt_load_id_column", failing)
    monkeypatch.setattr(sql_copy, "PIPE_BUFFER", 256)
    monkeypatch.setattr(sql_copy._Counted, "write", failing_write)


def dies(*args, **kwargs):
    raise RuntimeError("the process dies")


def count_and_distinct(settings: Settings, table: str) -> tuple[int, int]:
    with warehouse(settings) as con:
        return con.execute(f"select count(*), count(distinct id) from raw_erp.{table}").fetchone()


def create_typed(engine: sa.Engine, schema: str | None, count: int) -> sa.Table:
    """The typed table alone with ``count`` rows, in its own schema (if any)."""
    typed = typed_table(schema)
    with engine.begin() as con:
        if schema:
            con.execute(sa.schema.CreateSchema(schema))
        typed.create(con)
        con.execute(typed.insert(), typed_rows(count))
    return typed


def typed_only(schema: str | None, load: str | None = None) -> SourceSpec:
    """The typed table alone: incremental, or replaced on every load."""
    spec = source(schema)
    table = {"name": "typed", "primary_key": "id"}
    table |= {"load": load} if load else {"incremental": "updated_at"}
    db = spec.sql_database.model_copy(update={"tables": [sql_module.SqlTable(**table)]})
    return spec.model_copy(update={"sql_database": db})


def test_a_crash_while_streaming_or_before_the_load_neither_loses_nor_doubles_rows(
    database, tmp_path, monkeypatch
):
    url, schema = database
    engine = sa.create_engine(url)
    typed = create_typed(engine, schema, 400)
    spec = typed_only(schema)
    settings = Settings.from_env({"TRIBUTARY_DATA_DIR": str(tmp_path / "data")})

    # Dies while streaming the first load: no table, no cursor; the re-run loads every row once.
    with monkeypatch.context() as patch:
        break_after(patch, 3)
        with pytest.raises(PipelineStepFailed, match="the process dies"):
            run(spec, settings, url)
    assert "typed" not in raw_tables(settings)
    assert loaded_rows(run(spec, settings, url))["typed"] == 400
    assert count_and_distinct(settings, "typed") == (400, 400)

    # Dies after streaming, before dlt's load step: the table is complete but neither the load
    # nor its cursor is recorded. Re-run with the local state kept: the pending package is loaded
    # first (its load and cursor recorded), then only newer rows are read.
    for kept in (True, False):
        fresh = Settings.from_env({"TRIBUTARY_DATA_DIR": str(tmp_path / f"kept_{kept}")})
        with monkeypatch.context() as patch:
            patch.setattr(dlt.Pipeline, "load", dies)
            with pytest.raises(RuntimeError, match="the process dies"):
                run(spec, fresh, url)
        assert count_and_distinct(fresh, "typed") == (400, 400)
        if not kept:
            # ... or with it lost (a new machine): restored from the warehouse, which has no
            # cursor yet, so everything is read and replaced once more.
            pipeline_for(spec, fresh).drop()
        again = run(spec, fresh, url)
        assert count_and_distinct(fresh, "typed") == (400, 400)
        assert unrecorded_load_ids(fresh, "typed") == []
        assert loaded_rows(again).get("typed", 0) == (0 if kept else 400)
    with engine.begin() as con:
        con.execute(typed.insert(), typed_rows(10, start=401, at=T0 + dt.timedelta(days=1)))
    assert loaded_rows(run(spec, fresh, url))["typed"] == 10
    assert count_and_distinct(fresh, "typed") == (410, 410)

    # A first load over a table the warehouse already has (dlt's state and records were lost,
    # its rows were not) dies midway: the table keeps its previous rows, then is replaced.
    replaced = typed_only(schema, load="replace")
    other = Settings.from_env({"TRIBUTARY_DATA_DIR": str(tmp_path / "replaced")})
    run(replaced, other, url)
    before = content(other, "typed")
    pipeline_for(replaced, other).drop()
    with duckdb.connect(str(other.warehouse)) as con:
        for bookkeeping in ("_dlt_version", "_dlt_loads", "_dlt_pipeline_state"):
            con.execute(f"drop table raw_erp.{bookkeeping}")
    with engine.begin() as con:
        con.execute(typed.delete().where(typed.c.id > 400))
        con.execute(typed.update().values(label="renamed"))
    with monkeypatch.context() as patch:
        break_after(patch, 2)
        with pytest.raises(PipelineStepFailed, match="the process dies"):
            run(replaced, other, url)
    assert content(other, "typed") == before
    assert set(streamed(run(replaced, other, url))) == {"typed"}
    assert count_and_distinct(other, "typed") == (400, 400)
    with warehouse(other) as con:
        assert con.execute("select distinct label from raw_erp.typed").fetchall() == [("renamed",)]
    engine.dispose()


@pytest.mark.parametrize("database", ["postgresql"], indirect=True)
def test_a_copy_duckdb_cannot_read_stops_and_loads_through_arrow(
    database, tmp_path, monkeypatch, caplog
):
    """DuckDB cannot read a value of PostgreSQL's CSV (a BC date; here also a column declared as
    a type its text is not): the COPY stops, nothing of it is kept, and the table is loaded
    through Arrow instead, with a warning that names the column but not the value. DuckDB
    failing for any other reason fails the load, without waiting on the pipe."""
    url, schema = database
    engine = sa.create_engine(url)
    typed = create_typed(engine, schema, 3000)
    with engine.begin() as con:
        con.execute(typed.update().where(typed.c.id == 2999).values(day=sa.text("'0044-03-15 BC'")))
    engine.dispose()
    spec = typed_only(schema, load="replace")
    settings = Settings.from_env({"TRIBUTARY_DATA_DIR": str(tmp_path / "data")})
    options = sql_copy._csv_options

    def copying() -> list[str]:
        return [t.name for t in threading.enumerate() if t.name == "tributary-copy"]

    with monkeypatch.context() as patch:
        patch.setattr(sql_copy, "PIPE_BUFFER", 256)  # the COPY still writing when DuckDB fails
        patch.setattr(sql_copy, "_csv_options", lambda types: options(types) + ", typo = 1")
        with pytest.raises(PipelineStepFailed, match="typo"):
            run(spec, settings, url)
    assert "typed" not in raw_tables(settings)
    assert copying() == []

    for declared in ({"label": "DATE"}, {}):  # a column DuckDB cannot read; the BC date alone
        data = Settings.from_env({"TRIBUTARY_DATA_DIR": str(tmp_path / f"data_{len(declared)}")})
        caplog.clear()
        with monkeypatch.context() as patch:
            patch.setattr(sql_copy, "PIPE_BUFFER", 256)
            patch.setattr(
                sql_copy, "_csv_options", lambda types, more=declared: options(types | more)
            )
            pipeline = run(spec, data, url)
        assert copying() == []
        assert streamed(pipeline)["typed"]["rows"] == 3000  # once: the COPY's rows were dropped
        assert count_and_distinct(data, "typed") == (3000, 3000)
        warning = "loading it through Arrow instead"
        assert f"column {'label' if declared else 'day'}" in caplog.text and warning in caplog.text
        assert "标签" not in caplog.text and "0044" not in caplog.text  # no value in the log
        with warehouse(data) as con:
            before_christ = con.execute(
                "select day < date '0001-01-01' from raw_erp.typed where id = 2999"
            ).fetchone()
        assert before_christ == (True,)  # as connectorx reads it: the COPY would have failed


@pytest.mark.parametrize("database", ["postgresql"], indirect=True)
def test_a_copy_reads_one_snapshot_while_the_table_changes(database, tmp_path, monkeypatch):
    """The readers COPY their page ranges in the snapshot taken before any of them starts: rows
    updated meanwhile (their new versions land in another reader's pages) are read once each,
    as they were, never twice and never half-changed."""
    url, schema = database
    engine = sa.create_engine(url)
    typed = create_typed(engine, schema, 3000)
    ranges = []
    page_ranges = sql_copy._page_ranges
    monkeypatch.setattr(
        sql_copy, "_page_ranges", lambda *a: ranges.extend(page_ranges(*a)) or ranges
    )
    feeder_run = sql_copy._Feeder.run

    def run_after_an_update(feeder):
        if feeder.sql == ranges[-1]:  # the last range, where updated rows' new versions land
            with engine.begin() as con:
                con.execute(typed.update().values(label="moved"))
        feeder_run(feeder)

    monkeypatch.setattr(sql_copy._Feeder, "run", run_after_an_update)
    settings = Settings.from_env({"TRIBUTARY_DATA_DIR": str(tmp_path / "data")})
    run(typed_only(schema, load="replace"), settings, url)
    assert len(ranges) == 2 and all("ctid" in r for r in ranges)
    assert count_and_distinct(settings, "typed") == (3000, 3000)
    with warehouse(settings) as con:
        moved = con.execute("select count(*) from raw_erp.typed where label = 'moved'").fetchone()
    assert moved == (0,)
    engine.dispose()
