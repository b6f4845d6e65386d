"""The publish audit and the reconciliation ledger: what blocks and what only warns."""

import dagster as dg

from tributary.publish.audit import audit_failures
from tributary.quality.reconcile import Ledger

MART = dg.AssetKey(["marts", "dim_employee"])


def report(instance: dg.DagsterInstance, name: str, passed: bool, severity) -> dg.AssetCheckKey:
    instance.report_runless_asset_event(
        dg.AssetCheckEvaluation(asset_key=MART, check_name=name, passed=passed, severity=severity)
    )
    return dg.AssetCheckKey(MART, name)


def test_a_failed_error_blocks_the_publish_and_a_warning_does_not():
    instance = dg.DagsterInstance.ephemeral()
    instance.report_runless_asset_event(dg.AssetMaterialization(MART))
    warned = report(instance, "email_pattern", False, dg.AssetCheckSeverity.WARN)
    failed = report(instance, "required", False, dg.AssetCheckSeverity.ERROR)
    passed = report(instance, "codes", True, dg.AssetCheckSeverity.ERROR)
    never = dg.AssetCheckKey(MART, "never_ran")
    assert audit_failures(instance, [warned, passed]) == []
    assert audit_failures(instance, [warned, failed, passed, never]) == [
        "marts/dim_employee:required failed",
        "marts/dim_employee:never_ran has no result",
    ]


def test_differences_in_two_layers_never_cancel_out():
    # one row too many in staging, one too few out of it: 0 overall, 2 unexplained
    ledger = Ledger("hr.employees", rows_in=10, staged=11, rows_out=9, quarantined=1,
                    duplicates_merged=0, unmatched=0)  # fmt: skip
    assert ledger.unexplained == 2
    balanced = Ledger("hr.employees", rows_in=10, staged=10, rows_out=7, quarantined=1,
                      duplicates_merged=1, unmatched=1)  # fmt: skip
    assert balanced.unexplained == 0
