"""Database URLs as users copy them work in discover and load, with the installed drivers.

Regression (issue 13): `postgresql://…` failed with "No module named 'psycopg'" and `mysql://…`
with "No module named 'MySQLdb'"; only `postgresql+psycopg2://` and `mysql+pymysql://` worked.
"""

import uuid
from collections.abc import Iterator
from pathlib import Path

import duckdb
import pytest
import sqlalchemy as sa

from tributary.contracts.database_url import database_url
from tributary.contracts.source import load_spec, resolve_env
from tributary.ingest.kinds.sql_database.discover import discover
from tributary.ingest.pipeline import loaded_rows, pipeline_for
from tributary.ingest.sources import build_source
from tributary.settings import Settings

PLAIN = {
    "postgresql": "postgresql://postgres@127.0.0.1:5432/test",
    "postgres": "postgres://postgres@127.0.0.1:5432/test",
    "mysql": "mysql://root@127.0.0.1:3306/{db}",
    "mariadb": "mariadb://root@127.0.0.1:3306/{db}",
}


@pytest.fixture(params=["postgresql", "postgres", "mysql", "mariadb", "sqlite"])
def plain_database(request, tmp_path) -> Iterator[tuple[str, str | None, sa.Engine]]:
    """(the URL as a user writes it, the schema or None, an engine to fill it), dropped after."""
    name = f"i_ingest_{uuid.uuid4().hex[:8]}"
    scheme = request.param
    if scheme == "sqlite":
        url = f"sqlite:///{tmp_path / 'shop.sqlite'}"
        yield url, None, sa.create_engine(url)
        return
    if scheme.startswith("postgres"):
        engine = sa.create_engine(request.getfixturevalue("postgres_url"))
        with engine.begin() as con:
            con.execute(sa.schema.CreateSchema(name))
        yield PLAIN[scheme], name, engine
        with engine.begin() as con:
            con.execute(sa.schema.DropSchema(name, cascade=True))
        return
    server = sa.create_engine(request.getfixturevalue("mariadb_url"))
    with server.begin() as con:
        con.execute(sa.text(f"create database `{name}`"))
    yield PLAIN[scheme].format(db=name), None, sa.create_engine(server.url.set(database=name))
    with server.begin() as con:
        con.execute(sa.text(f"drop database `{name}`"))


def test_plain_urls_discover_and_load(plain_database, tmp_path):
    url, schema, engine = plain_database
    metadata = sa.MetaData(schema=schema)
    items = sa.Table(
        "items",
        metadata,
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=False),
        sa.Column("name", sa.String(30)),
    )
    notes = sa.Table("notes", metadata, sa.Column("text", sa.String(30)))  # no key: replaced
    metadata.create_all(engine)
    with engine.begin() as con:
        con.execute(items.insert(), [{"id": i, "name": f"item {i}"} for i in range(1, 8)])
        con.execute(notes.insert(), [{"text": "a"}, {"text": "b"}])
    engine.dispose()
    sources = tmp_path / "sources"
    sources.mkdir()
    path = sources / "shop.yaml"
    path.write_text(
        "name: shop\nkind: sql_database\nsql_database:\n  credentials: ${SHOP_URL}\n"
        + (f"  schema: {schema}\n" if schema else "")
        + "  discover: {include: ['*']}\n",
        encoding="utf-8",
    )
    settings = Settings.from_env(
        {"TRIBUTARY_DATA_DIR": str(tmp_path / "data"), "TRIBUTARY_SOURCES_DIR": str(sources)}
    )
    environ = {"SHOP_URL": url}
    assert discover(settings, "shop", environ=environ) == 0
    spec = load_spec(path)
    assert spec.table_names() == ["items", "notes"]
    pipeline = pipeline_for(spec, settings)
    pipeline.run(build_source(spec, environ=environ)).raise_on_failed_jobs()
    assert {t: n for t, n in loaded_rows(pipeline).items() if not t.startswith("_")} == {
        "items": 7,
        "notes": 2,
    }
    with duckdb.connect(str(settings.warehouse), read_only=True) as con:
        assert con.execute("select count(distinct id) from raw_shop.items").fetchone() == (7,)
    # The loads read with the driver the project installs (on PostgreSQL psycopg2, which the
    # COPY fast path of a first full load needs).
    resolved = resolve_env(spec, environ).sql_database.credentials
    installed = {"postgresql": "psycopg2", "postgres": "psycopg2", "mysql": "pymysql"}
    installed |= {"mariadb": "pymysql", "sqlite": "pysqlite"}
    assert sa.create_engine(resolved).dialect.driver == installed[url.split(":")[0]]


@pytest.mark.parametrize(
    ("written", "used"),
    [
        (
            "postgresql://u:p%40ss@h:5432/db?sslmode=require",
            "postgresql+psycopg2://u:p%40ss@h:5432/db?sslmode=require",
        ),
        ("postgres://u@h/db", "postgresql+psycopg2://u@h/db"),
        ("postgres+pg8000://u@h/db", "postgresql+pg8000://u@h/db"),
        ("mysql://root@h:3306/db", "mysql+pymysql://root@h:3306/db"),
        ("MariaDB://root@h/db", "mariadb+pymysql://root@h/db"),
        ("mysql+pymysql://root@h/db", "mysql+pymysql://root@h/db"),
        ("sqlite:///data/x.db", "sqlite:///data/x.db"),
        ("mssql+pyodbc://h/db", "mssql+pyodbc://h/db"),
    ],
)
def test_database_url_gives_plain_schemes_the_installed_driver(written, used):
    assert database_url(written) == used


def test_written_urls_are_normalized_in_the_source_file_too(tmp_path: Path):
    path = tmp_path / "shop.yaml"
    path.write_text(
        "name: shop\nkind: sql_database\nsql_database:\n"
        "  credentials: mysql://root@127.0.0.1/shop\n  tables: [{name: items}]\n",
        encoding="utf-8",
    )
    assert load_spec(path).sql_database.credentials == "mysql+pymysql://root@127.0.0.1/shop"
