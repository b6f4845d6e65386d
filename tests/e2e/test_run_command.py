"""`tributary run`, as a user types it: in a process of its own, on a bare DAGSTER_HOME (no
dagster.yaml: no pools, Dagster's defaults), against the demo enterprise on loopback.

Before it, a user with their own sources had to find `dagster asset materialize --select …`;
and two sources run together under an instance of their own failed with DuckDB's
"Conflicting lock is held" (issue 13, parts 3 and 4). The tests run in file order and share
one warehouse: everything, then one source, one step, two at once, and a failing one.
"""

import os
import re
import subprocess
import sys
from pathlib import Path

import dagster as dg
import duckdb
import pytest

from demo_enterprise import DemoEnterprise
from tributary.demo_run import environment
from tributary.settings import Settings

TRIBUTARY = str(Path(sys.executable).with_name("tributary"))
RUN_ID = re.compile(r"run (?:succeeded|FAILED): ([0-9a-f-]{36})")


class Project:
    """The data folder, the bare instance and the demo systems every test here runs against."""

    def __init__(self, root: Path, env: dict[str, str], enterprise: DemoEnterprise):
        self.root, self.env, self.enterprise = root, env, enterprise
        self.settings = Settings.from_env(env)

    def start(self, *args: str, **extra: str) -> subprocess.Popen:
        return subprocess.Popen(
            [TRIBUTARY, "run", *args],
            env={**self.env, **extra},
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )

    def run(self, *args: str, **extra: str) -> subprocess.CompletedProcess:
        process = self.start(*args, **extra)
        out, err = process.communicate(timeout=1800)
        return subprocess.CompletedProcess(process.args, process.returncode, out, err)

    def dagster_run(self, result: subprocess.CompletedProcess) -> dg.DagsterRun:
        """The run in the instance's history (what the UI lists), by the id the summary gave."""
        run_id = RUN_ID.search(result.stdout).group(1)
        with environment({"DAGSTER_HOME": self.env["DAGSTER_HOME"]}):
            return dg.DagsterInstance.get().get_run_by_id(run_id)

    def materialized(self, result: subprocess.CompletedProcess) -> set[str]:
        run = self.dagster_run(result)
        with environment({"DAGSTER_HOME": self.env["DAGSTER_HOME"]}):
            records = (
                dg.DagsterInstance.get()
                .get_records_for_run(run.run_id, of_type=dg.DagsterEventType.ASSET_MATERIALIZATION)
                .records
            )
        return {r.event_log_entry.dagster_event.asset_key.to_user_string() for r in records}

    def published_at(self):
        with duckdb.connect(str(self.settings.snapshot), read_only=True) as con:
            return con.execute("select max(published_at) from published_tables").fetchone()[0]


@pytest.fixture(scope="module")
def project(tmp_path_factory: pytest.TempPathFactory):
    root = tmp_path_factory.mktemp("run")
    home = root / "dagster_home"  # bare: no dagster.yaml, Dagster's defaults
    home.mkdir()
    base = {
        k: v
        for k, v in os.environ.items()
        if k not in ("TRIBUTARY_WAREHOUSE", "TRIBUTARY_SNAPSHOT")
    }
    env = {**base, "TRIBUTARY_DATA_DIR": str(root / "data"), "DAGSTER_HOME": str(home)}
    enterprise = DemoEnterprise(Settings.from_env(env).demo_dir, seed=3, scale=0.05)
    with enterprise.serve() as served:
        yield Project(root, {**env, **served}, enterprise)


@pytest.mark.e2e
def test_everything_then_one_source_end_to_end(project: Project):
    first = project.run()
    assert first.returncode == 0, first.stdout[-3000:] + first.stderr[-3000:]
    assert "run succeeded" in first.stdout and "analyst snapshot:" in first.stdout
    assert project.dagster_run(first).job_name == "refresh_all"
    published = project.published_at()

    project.enterprise.advance(1)  # new and changed HR records
    hr = project.run("hr")
    assert hr.returncode == 0, hr.stdout[-3000:] + hr.stderr[-3000:]
    # The job the UI and the file sensors run for this source, in the UI's run history.
    assert project.dagster_run(hr).job_name == "hr_refresh"
    done = project.materialized(hr)
    raw = {key for key in done if key.startswith("raw_")}
    assert raw == {"raw_hr/employees", "raw_hr/departments"}
    assert {"staging/stg_hr__employees", "marts/dim_employee", "publish/analyst_snapshot"} <= done
    assert "staging/stg_crm__customers" not in done  # another source's models stay as they are
    assert project.published_at() > published
    truth = project.enterprise.truth()
    with duckdb.connect(str(project.settings.snapshot), read_only=True) as con:
        employees = con.execute("select count(*) from marts.dim_employee").fetchone()[0]
    assert employees == len(truth.employees)


@pytest.mark.e2e
def test_only_ingest_loads_only_raw_tables(project: Project):
    published = project.published_at()
    project.enterprise.advance(1)
    result = project.run("crm", "--only", "ingest")
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    assert project.materialized(result) == {"raw_crm/users", "raw_crm/customers"}
    assert project.published_at() == published  # nothing built, nothing published


@pytest.mark.e2e
def test_two_sources_at_once_take_turns_on_the_warehouse(project: Project):
    """Two processes, no pools (bare instance): the warehouse lock serializes their steps."""
    project.enterprise.advance(1)
    runs = [project.start("hr"), project.start("finance")]
    results = [process.communicate(timeout=1800) for process in runs]
    for process, (out, err) in zip(runs, results, strict=True):
        assert process.returncode == 0, out[-3000:] + err[-3000:]
        assert "Conflicting lock" not in out + err
        assert "run succeeded" in out
    # They really did meet: at least one step waited for the other process, and said so.
    assert any("waiting for the warehouse" in err for _, err in results)


@pytest.mark.e2e
def test_a_failing_source_exits_non_zero_naming_the_step_and_error(project: Project):
    result = project.run("hr", HR_BASE_URL="http://127.0.0.1:9")  # nothing listens there
    assert result.returncode == 1
    assert "run FAILED" in result.stdout
    failed = [line.strip() for line in result.stdout.splitlines() if "failed:" in line]
    assert failed and failed[0].startswith("step ingest_hr failed: "), failed
    assert len(failed[0]) > len("step ingest_hr failed: ") + 10  # the error itself, one line


def test_an_unknown_source_is_named_with_the_known_ones(tmp_path: Path):
    result = subprocess.run(
        [TRIBUTARY, "run", "hr", "payrol"],
        env={"TRIBUTARY_DATA_DIR": str(tmp_path), "PATH": ""},
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 2
    assert "no source named payrol" in result.stderr
    assert "the sources are: crm, erp, finance, hr" in result.stderr
