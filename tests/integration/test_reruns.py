"""Re-runs never double a row: a keyed table holds one row per key, an unkeyed full load the
whole table once, whatever ran before — a retry, a re-run after a failure, the next schedule.

Regression (issue 13): a REST resource with `primary_key` and no incremental cursor got dlt's
default `append`, so a run after a failed one left 4,480 rows for 2,240 keys. Each test runs a
full load of one kind three times, one of them after a run whose load step failed mid-way (its
extracted package left pending, as a killed or locked-out run leaves it).
"""

import subprocess
import sys
import textwrap
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import dagster as dg
import duckdb
import pytest
import sqlalchemy as sa
from dagster_dlt import DagsterDltResource
from dlt.pipeline.exceptions import PipelineStepFailed
from rest_zoo import RestZoo
from test_file_sources import deliver

from tributary.contracts.source import SourceSpec, SpecErrors, load_spec
from tributary.ingest.assets import source_assets
from tributary.ingest.pipeline import pipeline_for
from tributary.ingest.sources import build_source
from tributary.settings import Settings

_HOLD_LOCK = (
    "import duckdb, sys; c = duckdb.connect(sys.argv[1]); print('held', flush=True); input()"
)


@contextmanager
def warehouse_locked(settings: Settings) -> Iterator[None]:
    """Another process holds DuckDB's write lock on the warehouse (as a second writer would)."""
    holder = subprocess.Popen(
        [sys.executable, "-c", _HOLD_LOCK, str(settings.warehouse)],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert holder.stdout is not None and holder.stdout.readline().strip() == "held"
        yield
    finally:
        holder.communicate("\n", timeout=30)


def run(spec: SourceSpec, settings: Settings, environ: dict[str, str]) -> None:
    pipeline = pipeline_for(spec, settings)
    pipeline.run(build_source(spec, environ=environ)).raise_on_failed_jobs()


def failed_run(spec: SourceSpec, settings: Settings, environ: dict[str, str]) -> None:
    """A run that extracts and normalizes every row, then fails in the load step."""
    pipeline = pipeline_for(spec, settings)
    pipeline.extract(build_source(spec, environ=environ))
    pipeline.normalize()
    with warehouse_locked(settings), pytest.raises(PipelineStepFailed):
        pipeline.load()
    assert pipeline.list_normalized_load_packages()  # left pending for the next run


def rows_and_keys(settings: Settings, table: str, key: str = "id") -> tuple[int, int]:
    with duckdb.connect(str(settings.warehouse), read_only=True) as con:
        return con.execute(f"select count(*), count(distinct {key}) from {table}").fetchone()


def source_file(folder: Path, name: str, kind: str, section: str) -> SourceSpec:
    path = folder / f"{name}.yaml"
    body = textwrap.indent(textwrap.dedent(section).strip(), "  ")
    path.write_text(f"name: {name}\nkind: {kind}\n{kind}:\n{body}\n", encoding="utf-8")
    return load_spec(path)


def paged_source(folder: Path, name: str, resources: str, url: str = "ZOO_URL") -> SourceSpec:
    """A REST source reading the zoo's page-number endpoints, failing at the first error."""
    client = (
        f"client:\n  base_url: ${{{url}}}\n  retries: 0\n"
        "  paginator: {type: page_number, base_page: 1, total_path: meta.total_pages}\n"
    )
    return source_file(folder, name, "rest_api", client + textwrap.dedent(resources).strip())


def test_rest_full_loads_rerun_after_failures_keep_one_row_per_key(tmp_path, settings):
    pages = "{path: pages, data_selector: data, params: {page_size: 5}}"
    spec = paged_source(
        tmp_path,
        "zoo",
        f"""
        resources:
          - name: items        # keyed, no cursor: merged on the key
            primary_key: id
            endpoint: {pages}
          - name: snapshot     # no key, no cursor: replaced
            endpoint: {pages}
        """,
    )
    with RestZoo(23) as zoo:
        run(spec, settings, zoo.env)
        zoo.broken_pages = {3}  # the API fails half-way through a run: nothing is loaded
        with pytest.raises(PipelineStepFailed, match="503"):
            run(spec, settings, zoo.env)
        zoo.broken_pages = set()
        failed_run(spec, settings, zoo.env)
        run(spec, settings, zoo.env)  # the pending package and a new extraction
        run(spec, settings, zoo.env)
    assert rows_and_keys(settings, "raw_zoo.items") == (23, 23)
    assert rows_and_keys(settings, "raw_zoo.snapshot") == (23, 23)


def test_rest_rerun_through_dagster_after_another_source_failed(tmp_path, settings, monkeypatch):
    """The issue's path: one run loads two sources, one of them fails, the run is re-run."""
    pages = "{path: pages, data_selector: data, params: {page_size: 5}}"
    specs = [
        paged_source(
            tmp_path,
            name,
            f"resources:\n  - {{name: items, primary_key: id, endpoint: {pages}}}",
            url=f"{name.upper()}_URL",
        )
        for name in ("good", "flaky")
    ]
    with RestZoo(12) as good, RestZoo(8) as flaky:
        monkeypatch.setenv("GOOD_URL", good.url)
        monkeypatch.setenv("FLAKY_URL", flaky.url)
        assets = [source_assets(spec, settings) for spec in specs]
        resources = {"dlt": DagsterDltResource()}
        flaky.broken_pages = {2}
        failed = dg.materialize(assets, resources=resources, raise_on_error=False)
        assert not failed.success
        flaky.broken_pages = set()
        for _ in range(3):
            assert dg.materialize(assets, resources=resources).success
    assert rows_and_keys(settings, "raw_good.items") == (12, 12)
    assert rows_and_keys(settings, "raw_flaky.items") == (8, 8)


def test_sql_full_loads_rerun_after_a_failed_load_keep_one_row_per_key(
    tmp_path, settings, database
):
    """On SQLite, PostgreSQL and MariaDB (the `database` fixture drops what it made)."""
    url, schema = database
    engine = sa.create_engine(url)
    if schema:
        with engine.begin() as con:
            con.execute(sa.schema.CreateSchema(schema))
    accounts = sa.Table(
        "accounts",
        sa.MetaData(schema=schema),
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=False),
        sa.Column("name", sa.String(40)),
    )
    with engine.begin() as con:
        accounts.create(con)
        con.execute(accounts.insert(), [{"id": i, "name": f"account {i}"} for i in range(1, 41)])
    spec = source_file(
        tmp_path,
        "ledger",
        "sql_database",
        f"""
        credentials: ${{LEDGER_URL}}
        schema: {schema or "null"}
        tables:
          - {{name: accounts, primary_key: id}}    # keyed, no cursor: merged on the key
          - {{name: everything, table: accounts}}  # no key, no cursor: replaced
        """,
    )
    environ = {"LEDGER_URL": url}
    run(spec, settings, environ)
    with engine.begin() as con:
        con.execute(accounts.update().where(accounts.c.id == 7).values(name="renamed"))
    engine.dispose()
    failed_run(spec, settings, environ)
    run(spec, settings, environ)
    run(spec, settings, environ)
    assert rows_and_keys(settings, "raw_ledger.accounts") == (40, 40)
    assert rows_and_keys(settings, "raw_ledger.everything") == (40, 40)
    with duckdb.connect(str(settings.warehouse), read_only=True) as con:
        assert con.execute("select name from raw_ledger.accounts where id = 7").fetchall() == [
            ("renamed",)
        ]


def test_file_loads_rerun_after_a_failed_load_keep_one_row_per_key(tmp_path, settings):
    folder = tmp_path / "exports"

    def export(name: str, ids: range, minute: int, label: str = "v1") -> None:
        lines = ["id,name", *(f"{i},{label} {i}" for i in ids)]
        deliver(folder, name, ("\n".join(lines) + "\n").encode(), minute)

    export("accounts_1.csv", range(1, 6), 0)
    export("accounts_2.csv", range(6, 11), 1)
    spec = source_file(
        tmp_path,
        "exports",
        "filesystem",
        """
        bucket_url: ${EXPORTS}
        tables:
          - {name: accounts, glob: "accounts_*.csv", primary_key: id}   # merged on the key
          - {name: everything, glob: "accounts_*.csv", load: replace}  # every file, each run
        """,
    )
    environ = {"EXPORTS": str(folder)}
    run(spec, settings, environ)
    export("accounts_1.csv", range(1, 6), 5, "v2")  # delivered again, changed
    failed_run(spec, settings, environ)
    run(spec, settings, environ)
    export("accounts_1.csv", range(1, 6), 9, "v3")
    run(spec, settings, environ)
    assert rows_and_keys(settings, "raw_exports.accounts") == (10, 10)
    assert rows_and_keys(settings, "raw_exports.everything") == (10, 10)
    with duckdb.connect(str(settings.warehouse), read_only=True) as con:
        names = con.execute("select distinct split_part(name, ' ', 1) from raw_exports.accounts")
        assert sorted(n for (n,) in names.fetchall()) == ["v1", "v3"]


@pytest.mark.parametrize(
    ("kind", "section", "message"),
    [
        (
            "rest_api",
            "client: {base_url: http://x}\nresources:\n"
            "  - {name: a, primary_key: id, write_disposition: append}",
            "resource 'a': a table with a primary_key is never appended",
        ),
        (
            "rest_api",
            "client: {base_url: http://x}\nresource_defaults: {write_disposition: append}\n"
            "resources:\n  - {name: a, primary_key: id}",
            "resource 'a': a table with a primary_key is never appended",
        ),
        (
            "rest_api",
            "client: {base_url: http://x}\nresources:\n  - {name: a, write_disposition: merge}",
            "resource 'a': merge needs a primary_key",
        ),
        (
            "sql_database",
            "credentials: sqlite:///x.db\ntables:\n"
            "  - {name: a, primary_key: id, incremental: t, load: append}",
            "a table with a primary_key is never appended",
        ),
    ],
)
def test_a_declared_key_is_never_appended(tmp_path, kind, section, message):
    with pytest.raises(SpecErrors, match=message) as exc:
        source_file(tmp_path, "s", kind, section)
    assert all(error.line for error in exc.value.errors)


def test_the_rule_picks_each_mode(tmp_path):
    rest = source_file(
        tmp_path,
        "r",
        "rest_api",
        """
        client: {base_url: http://x}
        resources:
          - {name: keyed, primary_key: id}
          - {name: plain}
          - name: new_only
            endpoint: {path: p, incremental: {start_param: since, cursor_path: t}}
          - {name: chosen, primary_key: id, write_disposition: replace}
        """,
    )
    section = rest.rest_api
    assert [section.write_disposition(r) for r in section.resources] == [
        "merge",
        "replace",
        "append",
        "replace",
    ]
    sql = source_file(
        tmp_path,
        "q",
        "sql_database",
        """
        credentials: sqlite:///x.db
        tables:
          - {name: keyed, primary_key: id}
          - {name: plain}
          - {name: new_only, incremental: t}
        """,
    )
    assert [t.mode for t in sql.sql_database.tables] == ["merge", "replace", "append"]
