"""Hostile table and column names from a SQL source reach DuckDB exactly (issue 19).

Names a careless `f"select {column} …"` would break on: reserved words (`order`, `select`),
spaces and capitals (`Order Date`), quotes of both kinds and non-ASCII letters, in a table
whose own name has a space and a non-ASCII letter. The first load (PostgreSQL's COPY path, the
Arrow path elsewhere), the incremental cursor on `Order Date` and the delete detection keyed on
`order` all build SQL from these names.
"""

import datetime as dt

import duckdb
import sqlalchemy as sa
from dlt.common.normalizers.naming import snake_case

from tributary.contracts.source import SourceSpec
from tributary.ingest.pipeline import pipeline_for
from tributary.ingest.sources import build_source
from tributary.settings import Settings

TABLE = "Order Détails"
KEY, CURSOR = "order", "Order Date"
OTHERS = ["select", "it's", 'say "hi"', "größe"]
T0 = dt.datetime(2024, 1, 1)


def hostile_table(schema: str | None) -> sa.Table:
    return sa.Table(
        TABLE,
        sa.MetaData(schema=schema),
        sa.Column(KEY, sa.Integer, primary_key=True, autoincrement=False),
        sa.Column(CURSOR, sa.DateTime),
        *[sa.Column(name, sa.String(40)) for name in OTHERS],
    )


def row(key: int, day: int, text: str) -> dict:
    return {KEY: key, CURSOR: T0 + dt.timedelta(days=day)} | {c: f"{text}{c}" for c in OTHERS}


def spec(schema: str | None) -> SourceSpec:
    table = {"name": "details", "table": TABLE, "primary_key": KEY, "incremental": CURSOR}
    return SourceSpec.model_validate(
        {
            "name": "hostile_names",
            "kind": "sql_database",
            "sql_database": {
                "credentials": "${HOSTILE_URL}",
                "schema": schema,
                "tables": [table | {"detect_deletes": True}],
            },
        }
    )


def load(settings: Settings, url: str, schema: str | None) -> None:
    source = spec(schema)
    pipeline = pipeline_for(source, settings)
    pipeline.run(build_source(source, environ={"HOSTILE_URL": url})).raise_on_failed_jobs()


def warehouse_rows(settings: Settings) -> set[tuple]:
    naming = snake_case.NamingConvention()
    columns = ", ".join(
        '"' + naming.normalize_identifier(c).replace('"', '""') + '"'
        for c in [KEY, CURSOR, *OTHERS]
    )
    with duckdb.connect(str(settings.warehouse), read_only=True) as con:
        found = con.execute(f"select {columns} from raw_hostile_names.details").fetchall()
    return {(r[0], r[1].replace(tzinfo=None), *r[2:]) for r in found}


def source_rows(rows: list[dict]) -> set[tuple]:
    return {(r[KEY], r[CURSOR], *(r[c] for c in OTHERS)) for r in rows}


def test_hostile_names_load_incrementally_with_deletes_exactly(database, settings):
    url, schema = database
    table = hostile_table(schema)
    engine = sa.create_engine(url)
    first = [row(1, 1, "a"), row(2, 2, "b"), row(3, 3, "c'; drop table x; --")]
    with engine.begin() as con:
        if schema:
            con.execute(sa.schema.CreateSchema(schema))
        table.create(con)
        con.execute(table.insert(), first)
    load(settings, url, schema)
    assert warehouse_rows(settings) == source_rows(first)

    changed, added = row(2, 5, "B"), row(4, 6, 'd"')
    with engine.begin() as con:
        con.execute(table.update().where(table.c[KEY] == 2).values(changed))
        con.execute(table.insert(), [added])
        con.execute(table.delete().where(table.c[KEY] == 1))
    load(settings, url, schema)
    assert warehouse_rows(settings) == source_rows([changed, first[2], added])
    engine.dispose()
