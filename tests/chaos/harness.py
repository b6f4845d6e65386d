"""What every fault case shares: the load process to break, and the count at the end."""

import os
import signal
import subprocess
import sys
import textwrap
import threading
from dataclasses import dataclass
from pathlib import Path

import duckdb

from tributary.contracts.source import SourceSpec, load_spec
from tributary.ingest.pipeline import pipeline_for
from tributary.ingest.sources import build_source
from tributary.settings import Settings

LOADER = Path(__file__).with_name("loader.py")
STAGE_TIMEOUT_S = 60
SQL_ROWS = 2000  # rows of the PostgreSQL table the SQL cases read (conftest.pg_schema)
LOADERS: list["Loader"] = []  # every loader started, stopped after each test (conftest)


@dataclass(frozen=True)
class Source:
    spec: SourceSpec
    path: Path


def source_file(folder: Path, name: str, kind: str, section: str) -> Source:
    path = folder / f"{name}.yaml"
    body = textwrap.indent(textwrap.dedent(section).strip(), "  ")
    path.write_text(f"name: {name}\nkind: {kind}\n{kind}:\n{body}\n", encoding="utf-8")
    return Source(load_spec(path), path)


class Loader:
    """The load process (``loader.py``) of one source, in a process of its own."""

    def __init__(self, source: Source | None, settings: Settings, env: dict[str, str], *args: str):
        spec = str(source.path) if source else "-"  # none to publish
        self.process = subprocess.Popen(
            [sys.executable, str(LOADER), spec, str(settings.data_dir), *args],
            env={**os.environ, **env},
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        self.err = ""
        LOADERS.append(self)

    def wait_paused(self) -> str:
        """Wait for the ``PAUSED <stage>`` line; fail, with the child's stderr, without one."""
        line: list[str] = []
        reader = threading.Thread(target=lambda: line.append(self.process.stdout.readline()))
        reader.start()
        reader.join(STAGE_TIMEOUT_S)
        got = line[0].strip() if line else ""
        if not got.startswith("PAUSED"):
            self.process.kill()
            _, self.err = self.process.communicate()
            raise AssertionError(f"the load never reached its stage ({got!r}):\n{self.err}")
        return got.split()[1]

    def kill9(self) -> int:
        self.process.send_signal(signal.SIGKILL)
        _, self.err = self.process.communicate(timeout=30)
        return self.process.returncode

    def resume(self) -> int:
        out, self.err = self.process.communicate("\n", timeout=STAGE_TIMEOUT_S * 2)
        return self.process.returncode

    def stop(self) -> None:
        """Kill it if it is still running (a failed test must not leave it holding locks)."""
        if self.process.poll() is None:
            self.process.kill()
            self.process.communicate()

    def finish(self) -> int:
        out, self.err = self.process.communicate(timeout=STAGE_TIMEOUT_S * 2)
        return self.process.returncode


def killed_at(stage: str, source: Source, settings: Settings, env: dict[str, str], after=1):
    """Run the load, pause it inside ``stage`` and kill -9 it there; assert it died so."""
    loader = Loader(source, settings, env, "--pause-at", stage, "--after", str(after))
    assert loader.wait_paused() == stage
    assert loader.kill9() == -signal.SIGKILL


def rerun(source: Source, settings: Settings, env: dict[str, str]) -> None:
    """The re-run an on-call engineer starts: the same pipeline, in this process."""
    spec = source.spec
    pipeline = pipeline_for(spec, settings)
    pipeline.run(build_source(spec, environ=env), loader_file_format="parquet")
    pipeline.last_trace.last_load_info.raise_on_failed_jobs()


@dataclass(frozen=True)
class Count:
    """Rows lost (expected keys missing) and doubled (rows beyond one per key)."""

    lost: int
    doubled: int


def count(warehouse: Path, table: str, expected: set, key: str = "id") -> Count:
    with duckdb.connect(str(warehouse), read_only=True) as con:
        keys = [str(k) for (k,) in con.execute(f"select {key} from {table}").fetchall()]
    expected = {str(k) for k in expected}  # a CSV's ids arrive as text
    return Count(lost=len(expected - set(keys)), doubled=len(keys) - len(set(keys)))


def total(counts: list[Count]) -> Count:
    return Count(sum(c.lost for c in counts), sum(c.doubled for c in counts))


def readable(path: Path) -> list[str]:
    """Every table of a DuckDB file, each read to the end (a broken file raises here)."""
    with duckdb.connect(str(path), read_only=True) as con:
        tables = con.execute(
            "select table_schema, table_name from information_schema.tables "
            "where table_type = 'BASE TABLE'"
        ).fetchall()
        for schema, name in tables:
            con.execute(f'select count(*) from "{schema}"."{name}"').fetchone()
    return [f"{s}.{t}" for s, t in tables]
