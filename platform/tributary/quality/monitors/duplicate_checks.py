"""Duplicate checks (warnings): records entered twice on each conformed entity, and records
delivered more than once on each staging model (counted for reconciliation, never failing)."""

from typing import Any

import dagster as dg
import pandas as pd

from tributary.identifiers import ident
from tributary.quality.monitors import duplicates
from tributary.quality.monitors.duplicates import Identity
from tributary.quality.monitors.targets import (
    SAMPLE_ROWS,
    STAGING_SCHEMA,
    WARN,
    EntityTarget,
    sample_md,
    shown,
)
from tributary.warehouse import Warehouse

EXACT_DESCRIPTION = (
    "Records with different keys that agree on every identifying field ({fields}) once case, "
    "full-width characters and spacing are evened out: probably one {entity} entered twice. "
    "A missing value matches nothing. Shows each group of records."
)
NEAR_DESCRIPTION = (
    "Pairs of records whose {name} reads almost the same (Jaro-Winkler similarity ≥ "
    f"{duplicates.NEAR_DUPLICATE_SIMILARITY} after punctuation and legal forms such as "
    "'Co., Ltd.' or '有限公司' are dropped) while {others}: probably one {entity} entered twice "
    "with different spellings. Exact duplicates are left to `exact_duplicates`."
)
MERGED_DESCRIPTION = (
    "Records this source delivered more than once (the same source id in several rows): the "
    "conformed model keeps the newest. Counted for reconciliation; never fails."
)


def _read_identity(warehouse: Warehouse, target: EntityTarget, identity: Identity) -> pd.DataFrame:
    columns = ", ".join(ident(c) for c in dict.fromkeys([*identity.keys, *identity.fields]))
    with warehouse.connect(read_only=True) as con:
        return con.execute(f"select {columns} from {target.relation}").df()


def evaluate_exact_duplicates(warehouse: Warehouse, target: EntityTarget) -> dg.AssetCheckResult:
    identity = target.identity
    frame = _read_identity(warehouse, target, identity)
    groups = duplicates.exact_duplicates(duplicates.prepare(frame, identity), identity)
    metadata: dict[str, Any] = {
        "records_checked": len(frame),
        "identify_by": ", ".join(identity.fields),
        "duplicate_groups": int(groups["_group"].nunique()),
        "records_in_groups": len(groups),
    }
    if not groups.empty:
        rows = frame.iloc[groups["_rid"].to_numpy()].reset_index(drop=True)
        sample = pd.DataFrame({"group": groups["_group"].to_numpy()})
        for column in dict.fromkeys([*identity.keys, *identity.fields]):
            sample[column] = shown(target, column, rows[column]).to_numpy()
        metadata["sample"] = sample_md(sample)
    return dg.AssetCheckResult(passed=groups.empty, severity=WARN, metadata=metadata)


def evaluate_near_duplicates(warehouse: Warehouse, target: EntityTarget) -> dg.AssetCheckResult:
    identity = target.identity
    frame = _read_identity(warehouse, target, identity)
    pairs, oversized = duplicates.near_duplicates(duplicates.prepare(frame, identity), identity)
    metadata: dict[str, Any] = {
        "records_checked": len(frame),
        "compared_on": identity.name_field,
        "must_agree_or_be_missing": ", ".join(identity.other_fields) or "—",
        "similarity_threshold": duplicates.NEAR_DUPLICATE_SIMILARITY,
        "pairs_found": len(pairs),
    }
    if oversized:
        metadata["blocks_not_compared"] = dg.MetadataValue.md(
            "\n".join(f"- {b}" for b in oversized[:SAMPLE_ROWS])
        )
    if not pairs.empty:
        left = frame.iloc[pairs["left_rid"].to_numpy()].reset_index(drop=True)
        right = frame.iloc[pairs["right_rid"].to_numpy()].reset_index(drop=True)
        sample = pd.DataFrame({"similarity": pairs["similarity"].to_numpy()})
        for side, rows in (("left", left), ("right", right)):
            for column in dict.fromkeys([*identity.keys, *identity.fields]):
                sample[f"{side}_{column}"] = shown(target, column, rows[column]).to_numpy()
        metadata["sample"] = sample_md(sample)
    return dg.AssetCheckResult(passed=pairs.empty, severity=WARN, metadata=metadata)


def evaluate_duplicates_merged(warehouse: Warehouse, model: str) -> dg.AssetCheckResult:
    with warehouse.connect(read_only=True) as con:
        found = duplicates.redelivered(con, f"{ident(STAGING_SCHEMA)}.{ident(model)}")
    metadata: dict[str, Any] = {
        "rows_delivered": found["rows"],
        "distinct_records": found["distinct_records"],
        "duplicates_merged": found["merged"],
    }
    if not found["top"].empty:
        metadata["most_redelivered"] = sample_md(found["top"])
    return dg.AssetCheckResult(passed=True, severity=WARN, metadata=metadata)


def exact_check(target: EntityTarget) -> dg.AssetChecksDefinition:
    identity = target.identity

    @dg.asset_check(
        asset=target.asset_key,
        name="exact_duplicates",
        description=EXACT_DESCRIPTION.format(fields=", ".join(identity.fields), entity=target.name),
    )
    def exact_duplicates(warehouse: Warehouse) -> dg.AssetCheckResult:
        return evaluate_exact_duplicates(warehouse, target)

    return exact_duplicates


def near_check(target: EntityTarget) -> dg.AssetChecksDefinition:
    identity = target.identity
    others = (
        f"{', '.join(identity.other_fields)} agree or are missing on one side"
        if identity.other_fields
        else "nothing else identifies them"
    )

    @dg.asset_check(
        asset=target.asset_key,
        name="near_duplicates",
        description=NEAR_DESCRIPTION.format(
            name=identity.name_field, others=others, entity=target.name
        ),
    )
    def near_duplicates(warehouse: Warehouse) -> dg.AssetCheckResult:
        return evaluate_near_duplicates(warehouse, target)

    return near_duplicates


def merged_check(model: str) -> dg.AssetChecksDefinition:
    @dg.asset_check(
        asset=dg.AssetKey([STAGING_SCHEMA, model]),
        name="duplicates_merged",
        description=MERGED_DESCRIPTION,
    )
    def duplicates_merged(warehouse: Warehouse) -> dg.AssetCheckResult:
        return evaluate_duplicates_merged(warehouse, model)

    return duplicates_merged
