"""The ERP database: one schema, written with SQLAlchemy Core to SQLite, PostgreSQL or MariaDB."""

import os
import re
import tempfile
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects import mysql

from demo_enterprise.simulation import Enterprise

# MariaDB's TIMESTAMP updates itself on every UPDATE and ends in 2038: use DATETIME there.
_TIMESTAMP = sa.TIMESTAMP().with_variant(mysql.DATETIME(), "mysql", "mariadb")
_MONEY = sa.Numeric(12, 2)
_ORDER_SHARD = re.compile(r"orders_\d{4}")
# Chinese product and rep names: MariaDB's server default may still be latin1.
_MYSQL_OPTIONS = {"mysql_charset": "utf8mb4", "mysql_engine": "InnoDB"}

ErpTables = Mapping[str, Sequence[Mapping[str, Any]]]


def _columns(name: str) -> list[sa.Column[Any]]:
    if name == "products":
        return [
            sa.Column("product_id", sa.Integer, primary_key=True, autoincrement=False),
            sa.Column("sku", sa.String(32)),
            sa.Column("product_name", sa.String(200)),
            sa.Column("category", sa.String(64)),
            sa.Column("list_price_cny", _MONEY),
            sa.Column("updated_at", _TIMESTAMP),
        ]
    if name == "sales_reps":
        return [
            sa.Column("empNo", sa.Integer, primary_key=True, autoincrement=False),
            sa.Column("rep_name", sa.String(100)),
            sa.Column("region", sa.String(32)),
            sa.Column("updated_at", _TIMESTAMP),
        ]
    if name == "order_lines":
        return [
            sa.Column("order_id", sa.Integer, primary_key=True, autoincrement=False),
            sa.Column("line_no", sa.Integer, primary_key=True, autoincrement=False),
            sa.Column("product_id", sa.Integer),
            sa.Column("quantity", sa.Integer),
            sa.Column("unit_price_cny", _MONEY),
            sa.Column("updated_at", _TIMESTAMP),
        ]
    if _ORDER_SHARD.fullmatch(name):
        return [
            sa.Column("order_id", sa.Integer, primary_key=True, autoincrement=False),
            sa.Column("order_no", sa.String(32)),
            sa.Column("customer_ref", sa.String(16)),
            sa.Column("empNo", sa.Integer),
            sa.Column("order_date", sa.Date),
            sa.Column("status", sa.String(16)),
            sa.Column("currency", sa.CHAR(3)),
            sa.Column("updated_at", _TIMESTAMP),
        ]
    raise ValueError(f"not an ERP table: {name!r}")


def write_erp(url: str, data: Enterprise | ErpTables, schema: str | None = None) -> None:
    """(Re)create the ERP tables at `url` and write every row.

    The rows carry their own updated_at, so rewriting after an advance leaves unchanged rows
    exactly as they were. On PostgreSQL the tables go into `schema` (created if missing);
    on MariaDB into the URL's database. A SQLite file is built beside the target and renamed
    over it, so a reader never sees a half-written ERP.
    """
    tables = data.erp_tables if isinstance(data, Enterprise) else data
    target = sa.make_url(url)
    if target.get_backend_name() != "sqlite":
        _write(target, tables, schema)
        return
    if schema is not None:
        raise ValueError("SQLite has no schemas: write to a separate file instead")
    if target.database in (None, "", ":memory:"):
        raise ValueError("write_erp needs a SQLite file; an in-memory database would vanish")
    path = Path(target.database)
    path.parent.mkdir(parents=True, exist_ok=True)
    handle, temporary = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    os.close(handle)
    try:
        _write(target.set(database=temporary), tables, None)
        os.replace(temporary, path)
    finally:
        Path(temporary).unlink(missing_ok=True)


def _write(target: sa.URL, tables: ErpTables, schema: str | None) -> None:
    metadata = sa.MetaData(schema=schema)
    defined = [sa.Table(name, metadata, *_columns(name), **_MYSQL_OPTIONS) for name in tables]
    engine = sa.create_engine(target)
    try:
        with engine.begin() as connection:
            if schema is not None:
                connection.execute(sa.schema.CreateSchema(schema, if_not_exists=True))
            metadata.drop_all(connection)
            metadata.create_all(connection)
            for table in defined:
                rows = tables[table.name]
                if rows:
                    connection.execute(table.insert(), list(rows))
    finally:
        engine.dispose()
