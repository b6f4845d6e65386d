"""Shared fixtures: settings on a temporary data folder, the dbt manifest, the services."""

import os
import socket
import subprocess
import sys
import uuid
from pathlib import Path

import pytest
import sqlalchemy as sa

from tributary.settings import PROJECT_ROOT, Settings

PG_URL = "postgresql+psycopg2://postgres@127.0.0.1:5432/test"
MARIADB_URL = "mysql+pymysql://root@127.0.0.1:3306/test"


@pytest.fixture(scope="session", autouse=True)
def dbt_manifest() -> Path:
    """The definitions are built from dbt's manifest: parse once per session."""
    project = PROJECT_ROOT / "dbt_project"
    dbt = Path(sys.executable).with_name("dbt")
    subprocess.run([str(dbt), "parse", "--quiet", "--profiles-dir", "."], cwd=project, check=True)
    return project / "target" / "manifest.json"


@pytest.fixture
def settings(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Settings:
    """Settings whose data, warehouse and snapshot all live in a temporary folder."""
    for key in ("TRIBUTARY_WAREHOUSE", "TRIBUTARY_SNAPSHOT"):
        monkeypatch.delenv(key, raising=False)
    monkeypatch.setenv("TRIBUTARY_DATA_DIR", str(tmp_path / "data"))
    return Settings.from_env()


def require_service(host: str, port: int, name: str) -> None:
    """Skip when a database service is down — except in CI, where that is a failure."""
    try:
        socket.create_connection((host, port), timeout=2).close()
    except OSError:
        message = f"{name} is not reachable on {host}:{port}"
        if os.environ.get("CI") == "true":
            pytest.fail(message)
        pytest.skip(message)


@pytest.fixture
def postgres_url() -> str:
    require_service("127.0.0.1", 5432, "PostgreSQL")
    return PG_URL


@pytest.fixture
def mariadb_url() -> str:
    require_service("127.0.0.1", 3306, "MariaDB")
    return MARIADB_URL


@pytest.fixture(params=["sqlite", "postgresql", "mariadb"])
def database(request: pytest.FixtureRequest, tmp_path: Path):
    """An empty database on each engine: (url, schema or None), dropped afterwards."""
    name = f"t_{uuid.uuid4().hex[:8]}"
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'source.sqlite'}", None
        return
    if request.param == "postgresql":
        url = request.getfixturevalue("postgres_url")
        yield url, name
        with sa.create_engine(url).begin() as con:
            con.execute(sa.text(f'drop schema if exists "{name}" cascade'))
        return
    server = request.getfixturevalue("mariadb_url")
    engine = sa.create_engine(server)
    with engine.begin() as con:
        con.execute(sa.text(f"create database `{name}` character set utf8mb4"))
    yield server.rsplit("/", 1)[0] + f"/{name}", None
    with engine.begin() as con:
        con.execute(sa.text(f"drop database `{name}`"))
