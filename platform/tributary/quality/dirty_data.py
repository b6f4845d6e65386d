"""The dirty-data threshold: a staging table whose rows would mostly be quarantined fails.

Quarantine holds back the odd bad row; a feed delivering mostly bad rows is broken, and
publishing the rest would show a half-empty day as a whole one. So beside the rules check,
each staging model gets a blocking audit check: past the source's
``control.max_quarantined`` it fails with severity ERROR, which stops what is built from the
table in that run (the run fails) and holds the publish, so the snapshot stays as it was.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import dagster as dg
import pandas as pd

from tributary.graph import AUDIT_METADATA
from tributary.warehouse import Warehouse

if TYPE_CHECKING:  # quarantine.py builds these checks beside its own
    from tributary.quality.quarantine import StagedRules

CHECK_NAME = "dirty_data_threshold"


def dirty_result(
    frame: pd.DataFrame, failed: pd.DataFrame, threshold: str, share: float, where: str
) -> dg.AssetCheckResult:
    """Passed while the share of rows breaking a blocking rule is at most ``share``."""
    total = len(frame)
    blocked = failed[failed["severity"] == "block"]["index"].nunique() if len(failed) else 0
    dirty = blocked / total if total else 0.0
    metadata = {"rows": total, "would_quarantine": int(blocked), "threshold": threshold}
    shown = f"{blocked} of {total} rows ({dirty:.1%}) would be quarantined"
    if dirty <= share:
        return dg.AssetCheckResult(
            passed=True, description=f"{shown}: within {threshold}", metadata=metadata
        )
    return dg.AssetCheckResult(
        passed=False,
        severity=dg.AssetCheckSeverity.ERROR,
        description=f"{shown}: more than control.max_quarantined {threshold} ({where}); the "
        "load fails and the snapshot stays as it was — fix the feed or the rule, or raise "
        "the threshold",
        metadata=metadata,
    )


def dirty_data_check(staged: StagedRules) -> dg.AssetChecksDefinition:
    spec = staged.table.source.spec
    control = spec.control

    @dg.asset_check(
        asset=dg.AssetKey(["staging", staged.table.model]),
        name=CHECK_NAME,
        blocking=True,
        metadata={**AUDIT_METADATA, "threshold": control.max_quarantined},
        description=f"Fails the load when more than {control.max_quarantined} of the rows "
        f"would be quarantined (control.max_quarantined of source {spec.name}).",
    )
    def dirty_data_threshold(warehouse: Warehouse) -> dg.AssetCheckResult:
        with warehouse.connect(read_only=True) as con:
            frame, failed = staged.evaluate(con)
        where = f"sources/{spec.name}.yaml"
        return dirty_result(
            frame, failed, control.max_quarantined, control.max_quarantined_share, where
        )

    return dirty_data_threshold
