"""A real Data API for tests: a small published snapshot of the declared marts (built from their
dbt docs, published by the publish layer's own function), and uvicorn on a loopback port."""

from __future__ import annotations

import socket
import threading
import time
from contextlib import contextmanager
from datetime import date
from pathlib import Path

import pytest
import requests
import uvicorn

from tributary.contracts.api import documented_marts
from tributary.identifiers import ident
from tributary.publish.analyst_snapshot import publish_analyst_snapshot
from tributary.serve.cli import build, store
from tributary.serve.signing import new_master_key
from tributary.serve.tokens import new_signing_key
from tributary.settings import PROJECT_ROOT, Settings
from tributary.warehouse import connect

ROWS = {"fct_orders": 1234, "dim_customer": 150, "dim_employee": 40, "fct_invoices": 300}


def _value(column: str, data_type: str, unique: bool) -> str:
    """SQL for a column's value in row `i`: deterministic, some nulls unless it is the id."""
    kind = data_type.split("(")[0]
    expressions = {
        "bigint": "i * 7 % 1000" if not unique else "i * 3 + 1",
        "integer": "i % 50",
        "decimal": f"cast(i * 37 % 1000 / 4 as {data_type})",
        "double": "i / 7.0",
        "date": "date '2024-01-01' + cast(i * 11 % 400 as integer)",
        "timestamp": "timestamp '2024-01-01' + to_seconds(i * 3601)",
        "boolean": "i % 3 = 0",
        "varchar[]": "['hr', 'erp']",
    }
    if unique:
        return (
            expressions["bigint"]
            if kind == "bigint"
            else f"'{column[:3].upper()}' || lpad(i::varchar, 6, '0')"
        )
    value = expressions.get(kind, f"'{column}-' || (i % 9)::varchar")
    if column in ("email",):
        value = "'person' || i::varchar || '@example.com'"
    return f"case when i % 13 = 5 then null else {value} end"


def build_warehouse(path: Path, version: int = 1) -> None:
    marts = documented_marts(PROJECT_ROOT / "dbt_project")
    with connect(path) as con:
        con.execute("create schema if not exists marts")
        for model, rows in ROWS.items():
            columns = marts[model]["columns"]
            select = ", ".join(
                f"{_value(name, doc['data_type'], doc['unique'])}::{doc['data_type']} "
                f"as {ident(name)}"
                for name, doc in columns.items()
            )
            con.execute(
                f"create or replace table marts.{ident(model)} as "
                f"select {select} from range(?) t(i)",
                [rows + version - 1],
            )


def publish(settings, version: int = 1) -> dict[str, int]:
    build_warehouse(settings.warehouse, version)
    return publish_analyst_snapshot(settings.warehouse, settings.snapshot)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@contextmanager
def running(app):
    port = free_port()
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="error"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 20
    while not server.started:
        if time.monotonic() > deadline or not thread.is_alive():
            raise RuntimeError("the Data API did not start")
        time.sleep(0.05)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(10)


SECRETS: dict[str, str] = {}


@pytest.fixture(scope="module")
def api(tmp_path_factory):
    """The server, its settings, and a token for an app granted every dataset."""
    data = tmp_path_factory.mktemp("api") / "data"
    settings = Settings.from_env(
        {
            "TRIBUTARY_DATA_DIR": str(data),
            "TRIBUTARY_API_SIGNING_KEY": new_signing_key(),
            "TRIBUTARY_API_AKSK_KEY": new_master_key(),
        }
    )
    publish(settings)
    apps = store(settings)
    SECRETS["reader"] = apps.create("reader")
    apps.grant(
        "reader",
        ["orders", "customers", "employees", "invoices"],
        ["contact"],
        date(2099, 1, 1),
        100000,
    )
    with running(build(settings)) as url:
        yield settings, url


def token(url: str, app: str = "reader", secret: str | None = None, scope: str | None = None):
    form = {
        "grant_type": "client_credentials",
        "client_id": app,
        "client_secret": secret or SECRETS[app],
        **({"scope": scope} if scope else {}),
    }
    response = requests.post(f"{url}/oauth/token", data=form, timeout=10)
    assert response.status_code == 200, response.text
    return response.json()["access_token"]


def get(url: str, path: str, bearer: str | None, **params):
    headers = {"Authorization": f"Bearer {bearer}"} if bearer else {}
    return requests.get(f"{url}{path}", params=params, headers=headers, timeout=10)
