"""Source freshness against a real Dagster instance: the age is that of the last successful load.

How a load happens "days ago" without waiting: Dagster stamps every event with the wall clock
and has no public way to backdate one. So loads are recorded now — by a real dlt load through
``dg.materialize`` or by ``instance.report_runless_asset_event`` — and the checks and the
sensor are built with an injectable clock that is moved forward to the moment of evaluation.
Only the difference between the two matters, so "loaded now, evaluated 80 h later" is
"loaded 80 h ago, evaluated now".
"""

from datetime import UTC, datetime, timedelta
from pathlib import Path

import dagster as dg
import pytest
from dagster_dlt import DagsterDltResource

from tributary.contracts.source import SourceSpec, SpecErrors, load_spec, load_specs
from tributary.ingest.assets import source_assets
from tributary.quality.freshness import (
    CHECK_NAME,
    JOB_NAME,
    SENSOR_NAME,
    build_freshness_checks,
    build_freshness_sensors,
)
from tributary.settings import PROJECT_ROOT

FRESHNESS = "freshness: {warn_after: 26h, block_after: 72h}\n"
INVOICES = dg.AssetKey(["raw_exports", "invoices"])
PAYMENTS = dg.AssetKey(["raw_exports", "payments"])


class Clock:
    """The checks' idea of now: starts at the wall clock, moved forward by the tests."""

    def __init__(self) -> None:
        self.now = datetime.now(UTC)

    def __call__(self) -> datetime:
        return self.now

    def advance(self, hours: float) -> None:
        self.now += timedelta(hours=hours)


def write_spec(folder: Path, freshness: str = FRESHNESS) -> SourceSpec:
    path = folder / "exports.yaml"
    path.write_text(
        "name: exports\nkind: filesystem\n"
        f"{freshness}"
        "filesystem:\n  bucket_url: ${EXPORTS}\n  tables:\n"
        "    - {name: invoices, glob: 'invoices_*.csv'}\n"
        "    - {name: payments, glob: 'payments_*.csv'}\n",
        encoding="utf-8",
    )
    return load_spec(path)


@pytest.fixture
def spec(tmp_path: Path) -> SourceSpec:
    return write_spec(tmp_path)


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def instance() -> dg.DagsterInstance:
    return dg.DagsterInstance.ephemeral()


def evaluate(instance, settings, spec, clock) -> dict[str, dg.AssetCheckEvaluation]:
    """Run the freshness checks alone (as the sensor's runs do); results by table."""
    defs = dg.Definitions(
        asset_checks=build_freshness_checks(settings, [spec], clock=clock),
        sensors=build_freshness_sensors([spec], clock=clock),
    )
    result = defs.resolve_job_def(JOB_NAME).execute_in_process(instance=instance)
    return {e.asset_key.path[-1]: e for e in result.get_asset_check_evaluations()}


def loaded_now(instance: dg.DagsterInstance, key: dg.AssetKey, **metadata) -> None:
    instance.report_runless_asset_event(dg.AssetMaterialization(key, metadata=metadata))


def test_fresh_then_stale_then_overdue_and_never_loaded(instance, settings, spec, clock):
    loaded_now(instance, INVOICES)
    clock.advance(1)
    results = evaluate(instance, settings, spec, clock)
    fresh = results["invoices"]
    assert fresh.passed and fresh.check_name == CHECK_NAME
    assert fresh.metadata["age_hours"].value == 1.0
    assert fresh.metadata["expectation"].value == "warn after 26h, block after 72h"
    assert fresh.metadata["last_load_utc"].value.endswith("Z")
    never = results["payments"]
    assert not never.passed and never.severity == dg.AssetCheckSeverity.WARN
    assert "never loaded" in never.description

    clock.advance(29)  # 30 h after the load: past warn_after
    stale = evaluate(instance, settings, spec, clock)["invoices"]
    assert not stale.passed and stale.severity == dg.AssetCheckSeverity.WARN
    assert stale.metadata["status"].value == "stale"

    clock.advance(50)  # 80 h: past block_after
    overdue = evaluate(instance, settings, spec, clock)["invoices"]
    assert not overdue.passed and overdue.severity == dg.AssetCheckSeverity.ERROR
    assert overdue.metadata["age_hours"].value == 80.0


def test_without_block_after_staleness_only_warns(instance, settings, tmp_path, clock):
    spec = write_spec(tmp_path, "freshness: {warn_after: 90m}\n")
    loaded_now(instance, INVOICES)
    clock.advance(24 * 30)
    assert evaluate(instance, settings, spec, clock)["invoices"].severity == (
        dg.AssetCheckSeverity.WARN
    )


def deliver(folder: Path, name: str, day: datetime) -> None:
    folder.mkdir(exist_ok=True)
    text = f"invoice_id,amount,updated_at\nINV-1,10.00,{day:%Y-%m-%dT%H:%M:%SZ}\n"
    (folder / name).write_text(text, encoding="utf-8")


def real_load(instance, settings, spec, folder: Path, monkeypatch) -> None:
    """The source's actual Dagster asset, loading through dlt into the temporary warehouse."""
    monkeypatch.setenv("EXPORTS", str(folder))
    result = dg.materialize(
        [source_assets(spec, settings)], instance=instance, resources={"dlt": DagsterDltResource()}
    )
    assert result.success


def test_old_rows_loaded_now_are_fresh(instance, settings, spec, clock, tmp_path, monkeypatch):
    # The rows say 2019; the load happened an hour ago: fresh.
    folder = tmp_path / "exports"
    deliver(folder, "invoices_1.csv", datetime(2019, 3, 5, tzinfo=UTC))
    deliver(folder, "payments_1.csv", datetime(2019, 3, 5, tzinfo=UTC))
    real_load(instance, settings, spec, folder, monkeypatch)
    clock.advance(1)
    results = evaluate(instance, settings, spec, clock)
    assert results["invoices"].passed and results["payments"].passed
    # A real load links the run that brought the data, for the on-call engineer.
    assert "last_load_run" in results["invoices"].metadata


def test_new_rows_loaded_long_ago_are_overdue(
    instance, settings, spec, clock, tmp_path, monkeypatch
):
    # The rows carry the evaluation time itself, but the load was 80 h before it.
    evaluated_at = clock.now + timedelta(hours=80)
    folder = tmp_path / "exports"
    deliver(folder, "invoices_1.csv", evaluated_at)
    deliver(folder, "payments_1.csv", evaluated_at)
    real_load(instance, settings, spec, folder, monkeypatch)
    # Nor does a data timestamp in the event's metadata count (Dagster's own freshness check
    # would believe this one): only when the load was recorded.
    loaded_now(
        instance,
        INVOICES,
        **{"dagster/last_updated_timestamp": dg.MetadataValue.timestamp(evaluated_at.timestamp())},
    )
    clock.now = evaluated_at
    results = evaluate(instance, settings, spec, clock)
    for table in ("invoices", "payments"):
        assert not results[table].passed
        assert results[table].severity == dg.AssetCheckSeverity.ERROR


def test_a_failed_load_is_not_a_load(instance, settings, spec, clock):
    @dg.asset(key=INVOICES)
    def broken() -> None:
        raise RuntimeError("source unreachable")

    assert not dg.materialize([broken], instance=instance, raise_on_error=False).success
    result = evaluate(instance, settings, spec, clock)["invoices"]
    assert not result.passed and "never loaded" in result.description


def test_sensor_records_staleness_when_no_load_runs(instance, settings, spec, clock):
    [sensor] = build_freshness_sensors([spec], clock=clock)
    assert sensor.name == SENSOR_NAME

    def tick():
        return sensor(dg.build_sensor_context(instance=instance))

    loaded_now(instance, INVOICES)
    loaded_now(instance, PAYMENTS)
    first = tick()  # nothing recorded yet: evaluate both
    assert isinstance(first, dg.RunRequest) and len(first.asset_check_keys) == 2
    evaluate(instance, settings, spec, clock)
    assert isinstance(tick(), dg.SkipReason)  # fresh, and recorded as fresh

    clock.advance(30)  # the loads stopped: no run happens unless the sensor asks for one
    stale = tick()
    assert isinstance(stale, dg.RunRequest)
    assert {k.asset_key for k in stale.asset_check_keys} == {INVOICES, PAYMENTS}
    evaluate(instance, settings, spec, clock)
    clock.advance(1)
    assert isinstance(tick(), dg.SkipReason)  # still stale, already shown: no new run

    clock.advance(49)
    overdue = tick()
    assert isinstance(overdue, dg.RunRequest) and overdue.run_key != stale.run_key


def test_sources_without_freshness_get_no_check(settings, tmp_path):
    spec = write_spec(tmp_path, freshness="")
    assert build_freshness_checks(settings, [spec]) == []
    assert build_freshness_sensors([spec]) == []


def test_every_demo_source_declares_its_freshness(settings):
    specs = load_specs(PROJECT_ROOT / "sources")
    keys = {k for c in build_freshness_checks(settings, specs) for k in c.check_keys}
    tables = {(s.dataset, t) for s in specs for t in s.table_names()}
    assert {tuple(k.asset_key.path) for k in keys} == tables


@pytest.mark.parametrize(
    ("freshness", "line", "message"),
    [
        ("freshness: {warn_after: 26x}\n", 3, "'26x' is not a duration"),
        ("freshness:\n  warn_after: 26\n", 4, "with its unit"),
        ("freshness:\n  warn_after: 3d\n  block_after: 26h\n", 3, "block_after (26h) is shorter"),
        ("freshness: {warn_after: 0h}\n", 3, "longer than zero"),
    ],
)
def test_malformed_freshness_names_file_and_line(tmp_path, freshness, line, message):
    with pytest.raises(SpecErrors) as exc:
        write_spec(tmp_path, freshness)
    [error] = exc.value.errors
    path = tmp_path / "exports.yaml"
    assert str(error).startswith(f"{path}:{line}: freshness")
    assert message in str(error) and "\n" not in str(error)
