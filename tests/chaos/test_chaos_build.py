"""kill -9 in the build: `tributary run hr`, killed (its whole process group, dbt included)
inside a dbt step or inside the quality checks, then run again as an on-call engineer would.

The run is a real one (the demo systems on loopback, scale 0.05, a bare DAGSTER_HOME, as
tests/e2e/test_run_command.py). The stage is found in the run's Dagster event log (the step's
STEP_START; for dbt also its `dbt` child process and a first model materialized), so the kill
lands inside it. After the re-run: no employee of the demo's truth missing from the marts, no
key twice in the staging, conformed or mart tables, every table's row count equal to that of
an uninterrupted run right after, the warehouse and the snapshot readable to the end.
"""

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import dagster as dg
import duckdb
import pytest
from harness import Count, readable

from demo_enterprise import DemoEnterprise
from tributary.demo_run import environment
from tributary.settings import Settings

TRIBUTARY = str(Path(sys.executable).with_name("tributary"))
STAGE_TIMEOUT_S = 300
# The hr run's tables with a key, and that key (the dbt project's unique tests, staging's merge).
KEYED = {
    "staging.stg_hr__employees": "employee_id",
    "staging.stg_hr__departments": "department_code",
    "intermediate.int_employee__conformed": "employee_id",
    "intermediate.int_department__conformed": "department_code",
    "marts.dim_employee": "employee_id",
}
BUILT = ("staging", "intermediate", "marts")


class Project:
    """The data folder, the bare instance and the demo systems the cases run against."""

    def __init__(self, env: dict[str, str], enterprise: DemoEnterprise):
        self.env, self.enterprise = env, enterprise
        self.settings = Settings.from_env(env)

    def run(self, *args: str) -> subprocess.CompletedProcess:
        result = subprocess.run(
            [TRIBUTARY, "run", *args], env=self.env, capture_output=True, text=True, timeout=900
        )
        assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
        return result

    def start(self, *args: str) -> subprocess.Popen:
        """A run in a process group of its own: the group is what the kill takes down."""
        return subprocess.Popen(
            [TRIBUTARY, "run", *args],
            env=self.env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            start_new_session=True,
        )

    def instance(self):
        return environment({"DAGSTER_HOME": self.env["DAGSTER_HOME"]})

    def run_ids(self) -> set[str]:
        with self.instance():
            return {run.run_id for run in dg.DagsterInstance.get().get_runs()}

    def steps_started(self, known: set[str]) -> tuple[str | None, list[str], int]:
        """The new run's id, the steps it started and its materializations so far (by step)."""
        with self.instance():
            instance = dg.DagsterInstance.get()
            runs = [r for r in instance.get_runs(limit=5) if r.run_id not in known]
            if not runs:
                return None, [], 0
            run_id = runs[0].run_id
            records = instance.get_records_for_run(
                run_id,
                of_type={
                    dg.DagsterEventType.STEP_START,
                    dg.DagsterEventType.ASSET_MATERIALIZATION,
                },
                limit=10_000,
            ).records
        started = [
            r.event_log_entry.dagster_event.step_key
            for r in records
            if r.event_log_entry.dagster_event.event_type == dg.DagsterEventType.STEP_START
        ]
        last = started[-1] if started else None
        made = sum(
            1
            for r in records
            if r.event_log_entry.dagster_event.event_type
            == dg.DagsterEventType.ASSET_MATERIALIZATION
            and r.event_log_entry.dagster_event.step_key == last
        )
        return run_id, started, made

    def run_status(self, run_id: str) -> dg.DagsterRunStatus:
        with self.instance():
            return dg.DagsterInstance.get().get_run_by_id(run_id).status

    def counts(self) -> dict[str, int]:
        with duckdb.connect(str(self.settings.warehouse), read_only=True) as con:
            tables = con.execute(
                "select table_schema, table_name from information_schema.tables "
                f"where table_schema in {BUILT} order by 1, 2"
            ).fetchall()
            return {
                f"{s}.{t}": con.execute(f'select count(*) from "{s}"."{t}"').fetchone()[0]
                for s, t in tables
            }


@pytest.fixture(scope="module")
def project(tmp_path_factory: pytest.TempPathFactory):
    root = tmp_path_factory.mktemp("build")
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
        built = Project({**env, **served}, enterprise)
        built.run()  # everything once: the other sources' tables the hr models join
        yield built


def group_processes(group: int) -> dict[int, str]:
    """The processes of a process group, by pid, with their command lines."""
    found = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            if os.getpgid(int(entry.name)) != group:
                continue
            found[int(entry.name)] = (entry / "cmdline").read_bytes().replace(b"\0", b" ").decode()
        except (ProcessLookupError, FileNotFoundError, PermissionError):
            continue
    return found


def dbt_children(group: int) -> list[int]:
    return [pid for pid, cmd in group_processes(group).items() if "/dbt " in cmd]


def kill_inside(project: Project, step: str, dbt: bool) -> tuple[str, list[int]]:
    """Start `tributary run hr`; kill -9 its group inside ``step`` (a prefix of step keys).

    A dbt step is killed once its `dbt` process runs and has materialized a first model;
    a check as soon as it starts (the checks that follow it run within the same second)."""
    known = project.run_ids()
    process = project.start("hr")
    deadline = time.monotonic() + STAGE_TIMEOUT_S
    while time.monotonic() < deadline:
        assert process.poll() is None, f"the run ended ({process.returncode}) before {step}"
        run_id, started, made = project.steps_started(known)
        inside = bool(started) and started[-1].startswith(step)
        children = dbt_children(process.pid) if inside and dbt else []
        if inside and (not dbt or (children and made)):
            os.killpg(process.pid, signal.SIGKILL)
            assert process.wait(timeout=30) == -signal.SIGKILL
            return run_id, children
        time.sleep(0.05)
    os.killpg(process.pid, signal.SIGKILL)
    raise AssertionError(f"the run never reached {step} in {STAGE_TIMEOUT_S} s")


def alive(pids: list[int], within_s: float) -> list[int]:
    """Those of ``pids`` still running (not gone, not a zombie) after ``within_s`` seconds."""
    deadline = time.monotonic() + within_s
    while True:
        running = []
        for pid in pids:
            try:
                state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
            except FileNotFoundError:
                continue
            if state != "Z":
                running.append(pid)
        if not running or time.monotonic() > deadline:
            return running
        time.sleep(0.1)


def doubled_keys(project: Project) -> int:
    with duckdb.connect(str(project.settings.warehouse), read_only=True) as con:
        return sum(
            con.execute(f"select count(*) - count(distinct {key}) from {table}").fetchone()[0]
            for table, key in KEYED.items()
        )


@pytest.mark.parametrize(
    ("fault", "step", "dbt"),
    [
        ("kill -9 in dbt (staging models)", "dbt_staging", True),
        ("kill -9 in dbt (conformed models and marts)", "dbt_models", True),
        ("kill -9 in the quality checks", "intermediate__int_employee__conformed", False),
    ],
)
def test_run_killed_in_the_build_then_rerun(project: Project, survived, fault, step, dbt):
    project.enterprise.advance(1)  # new and changed HR records for the killed run to carry
    killed, children = kill_inside(project, step, dbt)
    assert not alive(children, within_s=10)  # the dbt process died with the group
    rerun = project.run("hr")  # the lock of the dead run is gone, its STARTED run blocks nothing
    assert "run succeeded" in rerun.stdout
    assert project.run_status(killed) != dg.DagsterRunStatus.SUCCESS
    got = project.counts()
    project.run("hr")  # an uninterrupted run over the same data: the reference
    reference = project.counts()
    readable(project.settings.warehouse)
    readable(project.settings.snapshot)
    truth = len(project.enterprise.truth().employees)
    with duckdb.connect(str(project.settings.snapshot), read_only=True) as con:
        published = con.execute("select count(*) from marts.dim_employee").fetchone()[0]
    lost = max(0, truth - got["marts.dim_employee"]) + max(0, truth - published)
    lost += sum(max(0, reference[t] - got.get(t, 0)) for t in reference)
    doubled = doubled_keys(project) + sum(max(0, n - reference.get(t, 0)) for t, n in got.items())
    survived(fault, Count(lost=lost, doubled=doubled))
