"""The dirty-data threshold on real staging rows: past a source's control.max_quarantined the
load fails with a message naming the threshold; within it, quarantine takes the bad rows."""

import dagster as dg
import pytest
from test_quarantine import BAD, employee, hr_warehouse, staged_rules

from tributary.contracts.source import SourceSpec
from tributary.quality.dirty_data import dirty_result


def evaluate(rows: list[dict], threshold: str) -> dg.AssetCheckResult:
    frame, failed = staged_rules("hr", "employees").evaluate(hr_warehouse(rows).con)
    share = float(threshold.rstrip("%")) / 100
    return dirty_result(frame, failed, threshold, share, "sources/hr.yaml")


def test_over_the_threshold_the_load_fails_naming_it():
    result = evaluate(BAD, "10%")
    blocked = result.metadata["would_quarantine"].value
    assert blocked == 2 and result.metadata["rows"].value == len(BAD)
    assert not result.passed and result.severity == dg.AssetCheckSeverity.ERROR
    share = f"{blocked / len(BAD):.1%}"
    assert result.description.startswith(f"2 of {len(BAD)} rows ({share}) would be quarantined")
    assert "more than control.max_quarantined 10% (sources/hr.yaml)" in result.description


def test_within_the_threshold_quarantine_takes_the_bad_rows():
    clean = [employee(f"S9{i:04d}") for i in range(18)]
    result = evaluate(BAD[:3] + clean, "20%")
    assert result.passed and "within 20%" in result.description


def test_the_threshold_is_declared_per_source_with_a_default():
    base = {"name": "hr", "kind": "filesystem", "filesystem": {"bucket_url": "${X}",
            "tables": [{"name": "t", "glob": "*.csv"}]}}  # fmt: skip
    assert SourceSpec.model_validate(base).control.max_quarantined_share == 0.2
    spec = SourceSpec.model_validate({**base, "control": {"max_quarantined": "5%"}})
    assert spec.control.max_quarantined_share == 0.05
    with pytest.raises(ValueError, match="max_quarantined"):
        SourceSpec.model_validate({**base, "control": {"max_quarantined": "lots"}})
