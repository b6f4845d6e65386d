"""The quality scorecard on a hand-built warehouse: two entities, two sources, exact figures.

The staging views, conformed models and quarantine tables are built by hand in the shapes the
standardize and quality layers produce, so every figure below can be counted by eye. Raw
loads are runless materializations in an ephemeral instance; "now" is an injected clock.
"""

import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from types import SimpleNamespace

import dagster as dg
import duckdb
import pytest

from tributary.contracts.source import Freshness
from tributary.quality.scorecard import (
    SCORECARD_COLUMNS,
    Window,
    build_scorecard_assets,
    parse_duration,
    source_window,
    timeliness,
)
from tributary.settings import Settings
from tributary.warehouse import Warehouse, connect

DICTIONARY = """\
entities:
  employee:
    description: A person employed by the company.
    key: employee_id
    fields:
      employee_id: {type: id, required: true, description: Employee id.}
      full_name: {type: string, description: Name.}
      email: {type: email, description: Work e-mail.}
  department:
    description: A department.
    key: department_code
    fields:
      department_code: {type: id, required: true, description: Department code.}
      department_name: {type: string, description: Department name.}
"""
SOURCES = {
    "hr": ("employees", "departments"),  # no freshness declared: 24 h and 72 h
    "crm": ("users", "teams"),
}
CRM_FRESHNESS = "freshness: {warn_after: 2h, block_after: 6h}\n"
MAPPINGS = {
    "hr": """\
tables:
  employees:
    entity: employee
    fields: {staff_id: employee_id, name: full_name, mail: email}
  departments:
    entity: department
    fields: {code: department_code, name: department_name}
""",
    # crm does not send e-mails: its completeness is over the two fields it maps
    "crm": """\
tables:
  users:
    entity: employee
    fields: {user_id: employee_id, display_name: full_name}
  teams:
    entity: department
    fields: {team_code: department_code, team_name: department_name}
""",
}
NOW = datetime(2025, 6, 1, 12, 0, tzinfo=UTC)


def lineage(source: str, table: str, source_id: str, n: int) -> str:
    return f"'{source}', '{table}', '{source_id}', timestamp '2025-05-01', 'L1', '{source}-{n}'"


LINEAGE = "_source, _source_table, _source_id, _updated_at, _load_id, _record_id"


def build_warehouse(path: Path) -> None:
    with connect(path) as con:
        for schema in ("staging", "intermediate", "quality"):
            con.execute(f"create schema {schema}")
        # hr: 4 rows, E3 delivered twice; 1 name and 1 e-mail missing of 12 values.
        con.execute(
            "create view staging.stg_hr__employees as select * from (values "
            f"('E1', 'Ann', 'ann@x.cn', {lineage('hr', 'employees', '1', 1)}), "
            f"('E2', null, 'bo@x.cn', {lineage('hr', 'employees', '2', 2)}), "
            f"('E3', 'Cy', null, {lineage('hr', 'employees', '3', 3)}), "
            f"('E3', 'Cy', 'cy@x.cn', {lineage('hr', 'employees', '3', 4)})"
            f") as t(employee_id, full_name, email, {LINEAGE})"
        )
        con.execute(
            "create view staging.stg_crm__users as select * from (values "
            f"('E1', 'Ann', {lineage('crm', 'users', 'u1', 1)}), "
            f"('E9', 'Dee', {lineage('crm', 'users', 'u9', 2)})"
            f") as t(employee_id, full_name, {LINEAGE})"
        )
        con.execute(
            "create view staging.stg_hr__departments as select * from (values "
            f"('D01', 'Sales', {lineage('hr', 'departments', 'D01', 5)}), "
            f"('D02', 'Finance', {lineage('hr', 'departments', 'D02', 6)})"
            f") as t(department_code, department_name, {LINEAGE})"
        )
        con.execute(
            "create view staging.stg_crm__teams as select * from (values "
            f"('D01', 'Sales', {lineage('crm', 'teams', 't1', 3)}), "
            f"('D02', null, {lineage('crm', 'teams', 't2', 4)})"
            f") as t(department_code, department_name, {LINEAGE})"
        )
        con.execute(
            "create table intermediate.int_employee__conformed as select * from (values "
            "('E1', ['crm', 'hr']), ('E2', ['hr']), ('E3', ['hr']), ('E9', ['crm'])"
            ") as t(employee_id, _sources)"
        )
        # No int_department__conformed and no quality.quarantine_department: not built yet.
        # hr-2 breaks two blocking rules (counted once); hr-7 is no longer delivered.
        con.execute(
            "create table quality.quarantine_employee ("
            "rule varchar, severity varchar, reason varchar, source varchar, "
            "source_table varchar, source_id varchar, record_id varchar, load_id varchar, "
            "quarantined_at timestamp, record json)"
        )
        con.execute(
            "insert into quality.quarantine_employee values "
            "('full_name_required', 'block', 'full_name is null', 'hr', 'employees', '2', "
            " 'hr-2', 'L1', now(), '{}'), "
            "('email_pattern', 'block', 'bad e-mail', 'hr', 'employees', '2', "
            " 'hr-2', 'L1', now(), '{}'), "
            "('full_name_required', 'block', 'full_name is null', 'hr', 'employees', '7', "
            " 'hr-7', 'L0', now(), '{}')"
        )


@pytest.fixture
def project(tmp_path: Path) -> Settings:
    sources = tmp_path / "sources"
    (sources / "dictionary").mkdir(parents=True)
    (sources / "dictionary" / "entities.yaml").write_text(DICTIONARY, encoding="utf-8")
    for name, tables in SOURCES.items():
        listed = "".join(f"    - {{name: {t}, glob: '{t}_*.csv'}}\n" for t in tables)
        (sources / f"{name}.yaml").write_text(
            f"name: {name}\nkind: filesystem\nfilesystem:\n"
            f"  bucket_url: ${{{name.upper()}_DIR}}\n  tables:\n{listed}"
            + (CRM_FRESHNESS if name == "crm" else ""),
            encoding="utf-8",
        )
        (sources / f"{name}.mapping.yaml").write_text(MAPPINGS[name], encoding="utf-8")
    settings = Settings.from_env(
        {"TRIBUTARY_DATA_DIR": str(tmp_path / "data"), "TRIBUTARY_SOURCES_DIR": str(sources)}
    )
    build_warehouse(settings.warehouse)
    return settings


def loaded(
    instance: dg.DagsterInstance, monkeypatch: pytest.MonkeyPatch, key: list[str], at: datetime
) -> None:
    """A successful raw load of ``key`` at time ``at``: Dagster stamps events with time.time."""
    with monkeypatch.context() as patch:
        patch.setattr(time, "time", lambda: at.timestamp())
        instance.report_runless_asset_event(dg.AssetMaterialization(key))
    event = instance.get_latest_materialization_event(dg.AssetKey(key))
    assert event.timestamp == at.timestamp()


def scorecard(con: duckdb.DuckDBPyConnection, table: str = "quality.scorecard") -> dict:
    columns = list(SCORECARD_COLUMNS)
    rows = con.execute(f"select * from {table} order by entity, source, scored_at").fetchall()
    return {(r[1], r[2]): dict(zip(columns, r, strict=True)) for r in rows}


def test_scores_history_and_timeliness(project: Settings, monkeypatch: pytest.MonkeyPatch):
    instance = dg.DagsterInstance.ephemeral()
    loaded(instance, monkeypatch, ["raw_hr", "employees"], NOW - timedelta(hours=50))
    loaded(instance, monkeypatch, ["raw_hr", "departments"], NOW - timedelta(hours=1))
    loaded(instance, monkeypatch, ["raw_crm", "users"], NOW - timedelta(hours=1))
    # raw_crm/teams never loaded
    clock = [NOW]
    assets = build_scorecard_assets(project, clock=lambda: clock[0])

    resources = {"warehouse": Warehouse(path=str(project.warehouse))}
    first = dg.materialize(assets, instance=instance, resources=resources)
    assert first.success
    with duckdb.connect(str(project.warehouse), read_only=True) as con:
        current = scorecard(con)

    assert set(current) == {
        ("department", "crm"), ("department", "hr"), ("employee", "crm"), ("employee", "hr"),
    }  # fmt: skip
    hr = current["employee", "hr"]
    assert hr["staging_rows"] == 4
    assert hr["distinct_records"] == 3
    assert hr["quarantined_rows"] == 1
    assert hr["conformed_rows"] == 3
    assert hr["mapped_fields"] == 3
    assert hr["completeness"] == pytest.approx(10 / 12)
    assert hr["validity"] == pytest.approx(0.75)  # 3 of 4 rows valid
    assert hr["uniqueness"] == pytest.approx(0.75)  # E3 delivered twice
    # loaded 50 h ago against 24 h / 72 h: (72 − 50) / (72 − 24)
    assert hr["timeliness"] == pytest.approx(22 / 48)
    assert hr["hours_since_load"] == pytest.approx(50)
    assert hr["last_loaded_at"] == datetime(2025, 5, 30, 10, 0)
    assert hr["scored_at"] == datetime(2025, 6, 1, 12, 0)
    assert (hr["warn_after_hours"], hr["block_after_hours"]) == (24, 72)

    crm = current["employee", "crm"]
    assert (crm["staging_rows"], crm["quarantined_rows"], crm["conformed_rows"]) == (2, 0, 2)
    assert crm["mapped_fields"] == 2  # crm sends no e-mail: not counted against it
    assert (crm["completeness"], crm["validity"], crm["uniqueness"]) == (1, 1, 1)
    assert crm["timeliness"] == 1  # loaded 1 h ago, within its declared 2 h
    assert (crm["warn_after_hours"], crm["block_after_hours"]) == (2, 6)

    teams = current["department", "crm"]
    assert teams["completeness"] == pytest.approx(0.75)  # one name of four values missing
    assert teams["validity"] == 1  # no quarantine table yet: nothing quarantined
    assert teams["conformed_rows"] is None  # no conformed model yet
    assert teams["timeliness"] == 0  # never loaded
    assert teams["last_loaded_at"] is None and teams["hours_since_load"] is None
    assert current["department", "hr"]["timeliness"] == 1

    # In the UI: the table of every pair, and one float per entity and measure to plot.
    metadata = first.get_asset_materialization_events()[0].materialization.metadata
    assert len(metadata["scorecard"].value.records) == 4
    assert metadata["employee/completeness"].value == pytest.approx(14 / 16)
    assert metadata["employee/validity"].value == pytest.approx(5 / 6)
    assert metadata["employee/uniqueness"].value == pytest.approx(5 / 6)
    assert metadata["employee/timeliness"].value == pytest.approx(22 / 48)  # the stalest
    assert metadata["department/validity"].value == 1
    assert metadata["overall/timeliness"].value == 0

    # A day later, nothing reloaded: hr's employees are past block_after; history doubles.
    clock[0] = NOW + timedelta(hours=24)
    assert dg.materialize(assets, instance=instance, resources=resources).success
    with duckdb.connect(str(project.warehouse), read_only=True) as con:
        current = scorecard(con)
        history = con.execute(
            "select scored_at, count(*) from quality.scorecard_history group by 1 order by 1"
        ).fetchall()
    assert len(current) == 4
    assert history == [(datetime(2025, 6, 1, 12), 4), (datetime(2025, 6, 2, 12), 4)]
    assert current["employee", "hr"]["timeliness"] == 0
    assert current["department", "hr"]["timeliness"] == pytest.approx((72 - 25) / 48)
    assert current["employee", "crm"]["timeliness"] == 0  # 25 h against crm's 6 h
    assert current["employee", "hr"]["validity"] == pytest.approx(0.75)


def test_the_asset_is_described_for_the_ui(project: Settings):
    (asset,) = build_scorecard_assets(project)
    spec = next(iter(asset.specs))
    assert spec.key == dg.AssetKey(["quality", "scorecard"])
    assert spec.group_name == "quality"
    assert "warehouse" in asset.op.required_resource_keys  # the root pools it by this
    assert {d.asset_key for d in spec.deps} == {
        dg.AssetKey(["intermediate", "int_employee__conformed"]),
        dg.AssetKey(["intermediate", "int_department__conformed"]),
        dg.AssetKey(["quality", "quarantine_employee"]),
        dg.AssetKey(["quality", "quarantine_department"]),
    }
    columns = spec.metadata["dagster/column_schema"].columns
    assert [c.name for c in columns] == list(SCORECARD_COLUMNS)
    assert all(c.description and c.type for c in columns)
    # Only the upstream keys that exist in the definitions are dependencies.
    (wired,) = build_scorecard_assets(
        project, available=[dg.AssetKey(["intermediate", "int_employee__conformed"])]
    )
    assert {d.asset_key for d in next(iter(wired.specs)).deps} == {
        dg.AssetKey(["intermediate", "int_employee__conformed"])
    }


def test_freshness_is_read_defensively():
    hours = timedelta(hours=1)
    assert source_window(SimpleNamespace()) == Window(24 * hours, 72 * hours)
    declared = SimpleNamespace(freshness=Freshness(warn_after="26h", block_after="3d"))
    assert source_window(declared) == Window(26 * hours, 72 * hours)
    # without block_after the freshness check only warns; timeliness ends at 3 × warn_after
    assert source_window(SimpleNamespace(freshness=Freshness(warn_after="90m"))) == Window(
        1.5 * hours, 4.5 * hours
    )
    as_dict = SimpleNamespace(freshness={"warn_after": "2h", "block_after": "PT8H"})
    assert source_window(as_dict) == Window(2 * hours, 8 * hours)
    assert parse_duration("soon") is None
    window = Window(24 * hours, 72 * hours)
    assert [timeliness(h * hours, window) for h in (0, 24, 36, 60, 72, 100)] == [
        1, 1, 0.75, 0.25, 0, 0,
    ]  # fmt: skip
    assert timeliness(None, window) == 0
