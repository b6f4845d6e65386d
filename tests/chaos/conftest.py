"""The fault matrix's fixtures. Each case ends by calling ``survived(name, count)``, which asserts
0 lost and 0 doubled and records the counts (as junit properties) for ``make chaos``."""

import sys
import uuid
from pathlib import Path

import pytest
import sqlalchemy as sa

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "integration"))

from harness import LOADERS, SQL_ROWS, Count  # noqa: E402


@pytest.fixture(autouse=True)
def no_loader_left():
    yield
    while LOADERS:
        LOADERS.pop().stop()


@pytest.fixture
def survived(record_property):
    def check(fault: str, counts: Count) -> None:
        record_property("fault", fault)
        record_property("lost", counts.lost)
        record_property("doubled", counts.doubled)
        assert (counts.lost, counts.doubled) == (0, 0), f"{fault}: {counts}"

    return check


@pytest.fixture
def pg_schema(postgres_url):
    """A schema of its own on the shared PostgreSQL, dropped afterwards."""
    name = f"chaos_{uuid.uuid4().hex[:8]}"
    engine = sa.create_engine(postgres_url)
    with engine.begin() as con:
        con.execute(sa.text(f'create schema "{name}"'))
        con.execute(
            sa.text(
                f'create table "{name}".accounts (id int primary key, name text, '
                "updated_at timestamptz not null)"
            )
        )
        con.execute(
            sa.text(
                f"insert into \"{name}\".accounts select i, 'account ' || i, "
                "timestamptz '2024-01-01' + i * interval '1 minute' "
                f"from generate_series(1, {SQL_ROWS}) i"
            )
        )
    yield postgres_url, name, engine
    with engine.begin() as con:
        con.execute(sa.text(f'drop schema "{name}" cascade'))
    engine.dispose()
