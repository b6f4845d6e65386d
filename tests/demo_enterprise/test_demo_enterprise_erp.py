"""write_erp on SQLite, PostgreSQL and MariaDB: same tables, same rows, stable updated_at."""

import os
import uuid
from collections.abc import Iterator

import pytest
import sqlalchemy as sa

from demo_enterprise import Enterprise, simulate, write_erp

POSTGRES = "postgresql+psycopg2://postgres@127.0.0.1:5432/test"
MARIADB = "mysql+pymysql://root@127.0.0.1:3306/test"


@pytest.fixture(scope="module")
def ent() -> Enterprise:
    return simulate(13, 0.2, 1)


def _reachable(url: str) -> sa.Engine:
    """The server's engine; unreachable means skip, except on CI where it must be there."""
    engine = sa.create_engine(url, connect_args={"connect_timeout": 3})
    try:
        with engine.connect():
            pass
    except sa.exc.OperationalError as error:
        engine.dispose()
        message = f"{engine.url.get_backend_name()} unreachable: {error.orig}"
        if os.environ.get("CI") == "true":
            pytest.fail(message)
        pytest.skip(message)
    return engine


def _counts(engine: sa.Engine, schema: str | None) -> dict[str, int]:
    with engine.connect() as connection:
        metadata = sa.MetaData(schema=schema)
        metadata.reflect(connection)
        return {
            table.name: connection.execute(sa.select(sa.func.count()).select_from(table)).scalar()
            for table in metadata.tables.values()
        }


def _expected(ent: Enterprise) -> dict[str, int]:
    return {name: len(rows) for name, rows in ent.erp_tables.items()}


def _read(engine: sa.Engine, table: str) -> dict[object, dict]:
    with engine.connect() as connection:
        reflected = sa.Table(table, sa.MetaData(), autoload_with=connection)
        rows = connection.execute(sa.select(reflected)).mappings()
        return {tuple(row[c.name] for c in reflected.primary_key): dict(row) for row in rows}


def test_sqlite_holds_the_served_rows(tmp_path, ent: Enterprise) -> None:
    path = tmp_path / "erp.sqlite"
    write_erp(f"sqlite:///{path}", ent)
    engine = sa.create_engine(f"sqlite:///{path}")
    try:
        assert _counts(engine, None) == _expected(ent)
        with engine.connect() as connection:
            columns = [c["name"] for c in sa.inspect(connection).get_columns("orders_2025")]
        assert columns == [
            "order_id",
            "order_no",
            "customer_ref",
            "empNo",
            "order_date",
            "status",
            "currency",
            "updated_at",
        ]
        orders = _read(engine, "orders_2026")
        for row in ent.erp_tables["orders_2026"]:
            assert orders[row["order_id"],] == row
    finally:
        engine.dispose()
    assert [p.name for p in tmp_path.iterdir()] == ["erp.sqlite"]  # no temporary file left


def test_rewriting_after_an_advance_keeps_unchanged_rows(tmp_path) -> None:
    url = f"sqlite:///{tmp_path / 'erp.sqlite'}"
    engine = sa.create_engine(url)
    try:
        write_erp(url, simulate(13, 0.1, 0))
        before = {t: _read(engine, t) for t in ("orders_2025", "order_lines", "sales_reps")}
        engine.dispose()
        day1 = simulate(13, 0.1, 1)
        write_erp(url, day1)
        assert "orders_2026" in sa.inspect(engine).get_table_names()
        for table, rows in before.items():
            after = _read(engine, table)
            assert rows.keys() <= after.keys()
            for key, row in rows.items():
                if after[key] != row:  # a change is stamped on the new day
                    assert after[key]["updated_at"].date() == day1.now
                    assert after[key]["updated_at"] > row["updated_at"]
    finally:
        engine.dispose()


def test_sqlite_has_no_schemas(tmp_path, ent: Enterprise) -> None:
    with pytest.raises(ValueError):
        write_erp(f"sqlite:///{tmp_path / 'erp.sqlite'}", ent, schema="erp")


@pytest.fixture
def postgres_schema() -> Iterator[tuple[sa.Engine, str]]:
    engine = _reachable(POSTGRES)
    schema = f"demo_erp_{uuid.uuid4().hex[:10]}"
    try:
        yield engine, schema
    finally:
        with engine.begin() as connection:
            connection.execute(sa.text(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE'))
        engine.dispose()


def test_postgres_in_its_own_schema(
    postgres_schema: tuple[sa.Engine, str], ent: Enterprise
) -> None:
    engine, schema = postgres_schema
    write_erp(POSTGRES, ent, schema=schema)
    write_erp(POSTGRES, ent, schema=schema)  # re-creating is fine
    assert _counts(engine, schema) == _expected(ent)
    with engine.connect() as connection:
        reps = connection.execute(
            sa.text(f'SELECT "empNo", rep_name FROM "{schema}".sales_reps ORDER BY "empNo"')
        ).all()
    assert [tuple(r) for r in reps] == [
        (r["empNo"], r["rep_name"]) for r in ent.erp_tables["sales_reps"]
    ]


@pytest.fixture
def mariadb_database() -> Iterator[tuple[sa.Engine, str]]:
    engine = _reachable(MARIADB)
    database = f"demo_erp_{uuid.uuid4().hex[:10]}"
    with engine.begin() as connection:
        connection.execute(sa.text(f"CREATE DATABASE `{database}`"))
    try:
        yield engine, database
    finally:
        with engine.begin() as connection:
            connection.execute(sa.text(f"DROP DATABASE IF EXISTS `{database}`"))
        engine.dispose()


def test_mariadb_in_the_urls_database(
    mariadb_database: tuple[sa.Engine, str], ent: Enterprise
) -> None:
    engine, database = mariadb_database
    url = engine.url.set(database=database).render_as_string(hide_password=False)
    write_erp(url, ent)
    assert _counts(engine, database) == _expected(ent)
    with engine.connect() as connection:
        names = connection.execute(
            sa.text(f"SELECT product_name FROM `{database}`.products ORDER BY product_id")
        ).scalars()
        assert list(names) == [p["product_name"] for p in ent.erp_tables["products"]]
