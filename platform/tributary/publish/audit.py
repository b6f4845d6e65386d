"""The audit in write-audit-publish: whether the working warehouse may reach analysts."""

from collections.abc import Iterable

import dagster as dg


def audit_failures(instance: dg.DagsterInstance, checks: Iterable[dg.AssetCheckKey]) -> list[str]:
    """Why the working warehouse may not be published: a check that failed (a warning does
    not count), never ran, or has not run since its table last changed. Empty when every
    audit passed."""
    failures = []
    for check in checks:
        record = instance.get_latest_asset_check_evaluation_record(check)
        evaluation = record.event.asset_check_evaluation if record and record.event else None
        changed = instance.get_latest_materialization_event(check.asset_key)
        name = check.to_user_string()
        if evaluation is None:
            failures.append(f"{name} has no result")
        elif not evaluation.passed and evaluation.severity != dg.AssetCheckSeverity.WARN:
            failures.append(f"{name} failed")  # a warning is reported, it does not block
        elif changed is not None and record.event.timestamp < changed.timestamp:
            failures.append(f"{name} has not run since the table changed")
    return failures
