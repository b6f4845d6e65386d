"""Duplicates, outliers and volumes: warning checks that profile the data rather than test
rules, and the ``quality/profile_history`` asset they keep their memory in.

- On each conformed entity (``intermediate.int_<entity>__conformed``): ``exact_duplicates``
  and ``near_duplicates`` on the dictionary's ``identify_by`` fields (see ``duplicates.py``),
  ``numeric_outliers`` row by row and ``distribution_shift`` against the history of its numeric
  fields (see ``distribution.py``).
- On each staging model: ``duplicates_merged``, the records delivered more than once that the
  conformed model merges (metadata for reconciliation; it never fails).
- On each raw table: ``volume``, a load with far fewer rows than usual (see ``volume.py``).

Every check reads the working warehouse read-only and runs in the warehouse pool; only the
``quality/profile_history`` asset writes. All of them warn, never block: a duplicate or an
outlier is for a person to look at, not a reason to hold the analysts' snapshot back.
"""

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import dagster as dg
import pandas as pd

from tributary.contracts.dictionary import Dictionary, Entity
from tributary.contracts.mapping import SourceMapping
from tributary.contracts.resolved import conformed_columns, load_mappings_for, mapped_tables
from tributary.contracts.source import SourceSpec, load_specs
from tributary.quality import distribution, duplicates, volume
from tributary.quality.distribution import NumericField, ident
from tributary.quality.duplicates import Identity
from tributary.settings import Settings
from tributary.warehouse import connect

CONFORMED_SCHEMA = "intermediate"
STAGING_SCHEMA = "staging"
HISTORY_SCHEMA = "quality"
HISTORY_TABLE = "profile_history"
PROFILE_HISTORY_KEY = dg.AssetKey([HISTORY_SCHEMA, HISTORY_TABLE])
NUMERIC_TYPES = ("integer", "decimal", "money")
TEXT_KEY_TYPES = ("string", "code")
SAMPLE_ROWS = 20
WARN = dg.AssetCheckSeverity.WARN


@dataclass(frozen=True)
class EntityTarget:
    """One conformed entity as the profiling checks see it."""

    name: str
    entity: Entity
    columns: tuple[str, ...]  # the conformed model's dictionary columns
    staging_models: tuple[str, ...]
    identifier_fields: frozenset[str]  # key fields of any entity: numbers that are not amounts

    @property
    def model(self) -> str:
        return f"int_{self.name}__conformed"

    @property
    def asset_key(self) -> dg.AssetKey:
        return dg.AssetKey([CONFORMED_SCHEMA, self.model])

    @property
    def relation(self) -> str:
        return f"{ident(CONFORMED_SCHEMA)}.{ident(self.model)}"

    @property
    def identity(self) -> Identity | None:
        fields = [f for f in self.entity.identify_by if f in self.columns]
        if not fields:
            return None
        name = fields[0] if self.entity.fields[fields[0]].type == "string" else None
        return Identity(keys=self.entity.keys, fields=fields, name_field=name)

    @property
    def numeric_fields(self) -> list[NumericField]:
        """Amounts, counts and rates: numeric fields that are no entity's key (an order id is
        a number, not a quantity). A money field is profiled per currency; the text part of a
        composite key splits a field into series (fx rates per currency)."""
        composite = (
            [k for k in self.entity.keys if self.entity.fields[k].type in TEXT_KEY_TYPES]
            if len(self.entity.keys) > 1
            else []
        )
        out = []
        for name, spec in self.entity.fields.items():
            if spec.type not in NUMERIC_TYPES or name not in self.columns:
                continue
            if name in self.identifier_fields:
                continue
            currency = f"{name}_currency"
            segment = (currency,) if spec.type == "money" and currency in self.columns else ()
            out.append(NumericField(name, segment or tuple(composite)))
        return out

    def personal(self, column: str) -> bool:
        spec = self.entity.fields.get(column)
        return bool(spec and spec.personal_data)


def profiling_targets(dictionary: Dictionary, mappings: list[SourceMapping]) -> list[EntityTarget]:
    """Every entity some source maps onto (it has a conformed model), in dictionary order."""
    tables = mapped_tables(mappings, dictionary)
    identifiers = frozenset(k for e in dictionary.entities.values() for k in e.keys)
    targets = []
    for name, entity in dictionary.entities.items():
        own = [t for t in tables if t.entity_name == name]
        if own:
            targets.append(
                EntityTarget(
                    name=name,
                    entity=entity,
                    columns=tuple(conformed_columns(entity, own)),
                    staging_models=tuple(t.model for t in own),
                    identifier_fields=identifiers,
                )
            )
    return targets


# --- presentation ---------------------------------------------------------------------------


def mask(value: Any) -> str:
    """Personal data as shown in the UI: its ends kept, the middle starred ("+86********678",
    "王*明"). Dagster keeps check metadata forever, outside the warehouse's access rules."""
    if value is None or (not isinstance(value, str) and pd.isna(value)):
        return ""
    text = str(value)
    keep = max(1, len(text) // 4) if len(text) > 2 else 0
    return text[:keep] + "*" * max(1, len(text) - 2 * keep) + (text[-keep:] if keep else "")


def sample_md(frame: pd.DataFrame, rows: int = SAMPLE_ROWS) -> dg.MetadataValue:
    text = frame.head(rows).astype(str).to_markdown(index=False, disable_numparse=True)
    return dg.MetadataValue.md(text)


def _number(value: Any) -> str:
    """A statistic as people read it: six significant digits, empty when there is none."""
    return "" if value is None or pd.isna(value) else f"{float(value):,.6g}"


def _shown(target: EntityTarget, column: str, values: pd.Series) -> pd.Series:
    return values.map(mask) if target.personal(column) else values


# --- duplicates -----------------------------------------------------------------------------


def _read_identity(settings: Settings, target: EntityTarget, identity: Identity) -> pd.DataFrame:
    columns = ", ".join(ident(c) for c in dict.fromkeys([*identity.keys, *identity.fields]))
    with connect(settings.warehouse, read_only=True) as con:
        return con.execute(f"select {columns} from {target.relation}").df()


def evaluate_exact_duplicates(settings: Settings, target: EntityTarget) -> dg.AssetCheckResult:
    identity = target.identity
    frame = _read_identity(settings, target, identity)
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
            sample[column] = _shown(target, column, rows[column]).to_numpy()
        metadata["sample"] = sample_md(sample)
    return dg.AssetCheckResult(passed=groups.empty, severity=WARN, metadata=metadata)


def evaluate_near_duplicates(settings: Settings, target: EntityTarget) -> dg.AssetCheckResult:
    identity = target.identity
    frame = _read_identity(settings, target, identity)
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
                sample[f"{side}_{column}"] = _shown(target, column, rows[column]).to_numpy()
        metadata["sample"] = sample_md(sample)
    return dg.AssetCheckResult(passed=pairs.empty, severity=WARN, metadata=metadata)


def evaluate_duplicates_merged(settings: Settings, model: str) -> dg.AssetCheckResult:
    with connect(settings.warehouse, read_only=True) as con:
        found = duplicates.redelivered(con, f"{ident(STAGING_SCHEMA)}.{ident(model)}")
    metadata: dict[str, Any] = {
        "rows_delivered": found["rows"],
        "distinct_records": found["distinct_records"],
        "duplicates_merged": found["merged"],
    }
    if not found["top"].empty:
        metadata["most_redelivered"] = sample_md(found["top"])
    return dg.AssetCheckResult(passed=True, severity=WARN, metadata=metadata)


# --- distributions --------------------------------------------------------------------------


def evaluate_outliers(settings: Settings, target: EntityTarget) -> dg.AssetCheckResult:
    fields = target.numeric_fields
    with connect(settings.warehouse, read_only=True) as con:
        rows = con.execute(f"select count(*) from {target.relation}").fetchone()[0]
        found = distribution.outlying_rows(con, target.relation, target.entity.keys, fields)
    metadata: dict[str, Any] = {
        "rows_checked": rows,
        "fields": ", ".join(f.column for f in fields),
        "z_threshold": distribution.OUTLIER_Z,
        "outlying_values": len(found),
    }
    if not found.empty:
        counts = found.groupby(["field", "segment"]).size().reset_index(name="outlying_values")
        metadata["by_field"] = sample_md(counts, rows=len(counts))
        sample = found.copy()
        personal = sample["field"].map(target.personal)
        sample["value"] = sample["value"].astype(object).where(~personal, "(personal)")
        sample["median"] = sample["median"].astype(object).where(~personal, "(personal)")
        metadata["sample"] = sample_md(sample)
    return dg.AssetCheckResult(passed=found.empty, severity=WARN, metadata=metadata)


def _materialized_at(instance: dg.DagsterInstance, key: dg.AssetKey) -> datetime | None:
    event = instance.get_latest_materialization_event(key)
    return None if event is None else datetime.fromtimestamp(event.timestamp, UTC)


def evaluate_shift(
    settings: Settings, target: EntityTarget, built_at: datetime | None
) -> dg.AssetCheckResult:
    """The current statistics against those recorded before the model was last built."""
    before = None if built_at is None else built_at.astimezone(UTC).replace(tzinfo=None)
    with connect(settings.warehouse, read_only=True) as con:
        current = distribution.field_statistics(con, target.relation, target.numeric_fields)
        history = distribution.read_history(con, HISTORY_SCHEMA, HISTORY_TABLE, target.name, before)
    scored = distribution.shifts(current, history)
    moved = scored[scored["moved"].eq(True)]
    judged = scored["moved"].notna()
    metadata: dict[str, Any] = {
        "statistics_judged": int(judged.sum()),
        "statistics_moved": len(moved),
        "z_threshold": distribution.SHIFT_Z,
        "history_points": int(scored["points"].max()) if len(scored) else 0,
    }
    if len(scored) and not judged.all():
        metadata["note"] = (
            f"{int((~judged).sum())} statistic(s) have fewer than {distribution.MIN_HISTORY} "
            f"earlier builds in {HISTORY_SCHEMA}.{HISTORY_TABLE}: not judged yet"
        )
    if len(scored):
        shown = scored.sort_values("z", ascending=False, na_position="last")
        for column in ("current", "usual"):
            shown[column] = shown[column].map(_number)
        metadata["statistics"] = sample_md(shown, rows=len(shown))
    return dg.AssetCheckResult(passed=moved.empty, severity=WARN, metadata=metadata)


def append_profiles(
    settings: Settings, targets: list[EntityTarget], run_id: str
) -> tuple[pd.DataFrame, list[str]]:
    """Take every built target's statistics now and append them to the history table.
    Returns the rows appended and the entities whose model is not built yet."""
    now = datetime.now(UTC).replace(tzinfo=None)
    frames, missing = [], []
    with connect(settings.warehouse) as con:
        built = {
            r[0]
            for r in con.execute(
                "select table_name from information_schema.tables where table_schema = ?",
                [CONFORMED_SCHEMA],
            ).fetchall()
        }
        for target in targets:
            if target.model not in built:
                missing.append(target.name)
                continue
            stats = distribution.field_statistics(con, target.relation, target.numeric_fields)
            frames.append(stats.assign(entity=target.name))
        profiles = pd.concat(frames, ignore_index=True) if frames else pd.DataFrame()
        profiles = profiles.assign(profiled_at=now, run_id=run_id)
        profiles = profiles.reindex(columns=list(distribution.PROFILE_COLUMNS))
        distribution.ensure_history_table(con, HISTORY_SCHEMA, HISTORY_TABLE)
        if len(profiles):
            con.register("profiles", profiles)
            con.execute(
                f"insert into {ident(HISTORY_SCHEMA)}.{ident(HISTORY_TABLE)} "
                "by name select * from profiles"
            )
    return profiles, missing


# --- volumes --------------------------------------------------------------------------------


def evaluate_volume(
    settings: Settings, instance: dg.DagsterInstance, check_key: dg.AssetCheckKey
) -> dg.AssetCheckResult:
    dataset, table = check_key.asset_key.path
    loads = volume.recent_loads(instance, check_key.asset_key, volume.WINDOW + 1)
    previous = volume.recorded_table_rows(instance, check_key, volume.WINDOW)
    with connect(settings.warehouse, read_only=True) as con:
        disposition = volume.write_disposition(con, dataset, table)
        rows = volume.table_rows(con, dataset, table)
    verdict = volume.judge(disposition, loads, rows, previous)
    metadata: dict[str, Any] = {
        "rule": verdict.rule,
        "verdict": verdict.reason,
        "write_disposition": disposition or "unknown",
        volume.TABLE_ROWS: rows,
    }
    for signal in verdict.signals:
        prefix = signal.name.replace(" ", "_")
        metadata[f"usual_{prefix}"] = None if signal.usual is None else round(signal.usual)
        metadata[f"{prefix}_earlier_points"] = signal.points
    if loads:
        metadata["rows_loaded"] = loads[0].rows_loaded
        metadata["recent_loads"] = dg.MetadataValue.md(volume.loads_table(loads))
    return dg.AssetCheckResult(
        asset_key=check_key.asset_key,
        check_name=check_key.name,
        passed=verdict.passed,
        severity=WARN,
        metadata=metadata,
    )


# --- Dagster definitions --------------------------------------------------------------------

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
OUTLIER_DESCRIPTION = (
    "Values of {fields} far from the rest: more than "
    f"{distribution.OUTLIER_Z:g} robust standard deviations (median absolute deviation × "
    "1.4826, measured on the value's side of the median) from the field's median; money per "
    "currency. Shows the rows, most unusual first."
)
SHIFT_DESCRIPTION = (
    "Whether the median or the 99th percentile of {fields} moved against their history in "
    f"{HISTORY_SCHEMA}.{HISTORY_TABLE}: a robust z-score above {distribution.SHIFT_Z:g} "
    f"against the last {distribution.HISTORY_WINDOW} builds (at least "
    f"{distribution.MIN_HISTORY} needed) warns, e.g. prices suddenly in fen instead of yuan."
)
MERGED_DESCRIPTION = (
    "Records this source delivered more than once (the same source id in several rows): the "
    "conformed model keeps the newest. Counted for reconciliation; never fails."
)
VOLUME_DESCRIPTION = (
    "A load with far fewer rows than usual. A table replaced in full by every load warns when "
    f"the newest load brought under {volume.LOAD_MIN_SHARE:.0%} of the median of the previous "
    f"{volume.WINDOW} loads (or the table fell under {volume.LOAD_MIN_SHARE:.0%} of its usual "
    "size). An incrementally loaded table (merge, append) brings only what changed, so a "
    "small load is normal; it warns when the table itself shrinks under "
    f"{volume.TABLE_MIN_SHARE:.0%} of its median size after the previous loads. Judged once "
    f"there are {volume.MIN_PREVIOUS} earlier loads and the usual volume is at least "
    f"{volume.MIN_USUAL_ROWS} rows."
)


def _entity_checks(settings: Settings, target: EntityTarget) -> list[dg.AssetChecksDefinition]:
    checks = []
    identity = target.identity
    if identity is not None:

        @dg.asset_check(
            asset=target.asset_key,
            name="exact_duplicates",
            description=EXACT_DESCRIPTION.format(
                fields=", ".join(identity.fields), entity=target.name
            ),
        )
        def exact_check() -> dg.AssetCheckResult:
            return evaluate_exact_duplicates(settings, target)

        checks.append(exact_check)
    if identity is not None and identity.name_field:
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
        def near_check() -> dg.AssetCheckResult:
            return evaluate_near_duplicates(settings, target)

        checks.append(near_check)
    fields = ", ".join(f.column for f in target.numeric_fields)
    if fields:

        @dg.asset_check(
            asset=target.asset_key,
            name="numeric_outliers",
            description=OUTLIER_DESCRIPTION.format(fields=fields),
        )
        def outlier_check() -> dg.AssetCheckResult:
            return evaluate_outliers(settings, target)

        @dg.asset_check(
            asset=target.asset_key,
            name="distribution_shift",
            description=SHIFT_DESCRIPTION.format(fields=fields),
        )
        def shift_check(context: dg.AssetCheckExecutionContext) -> dg.AssetCheckResult:
            built_at = _materialized_at(context.instance, target.asset_key)
            return evaluate_shift(settings, target, built_at)

        checks += [outlier_check, shift_check]
    return checks


def _merged_check(settings: Settings, model: str) -> dg.AssetChecksDefinition:
    @dg.asset_check(
        asset=dg.AssetKey([STAGING_SCHEMA, model]),
        name="duplicates_merged",
        description=MERGED_DESCRIPTION,
    )
    def merged_check() -> dg.AssetCheckResult:
        return evaluate_duplicates_merged(settings, model)

    return merged_check


def volume_checks(settings: Settings, dataset: str, tables: list[str]) -> dg.AssetChecksDefinition:
    """One ``volume`` check per raw table of a dataset, evaluated in one step."""
    specs = [
        dg.AssetCheckSpec("volume", asset=dg.AssetKey([dataset, t]), description=VOLUME_DESCRIPTION)
        for t in tables
    ]

    @dg.multi_asset_check(specs=specs, name=f"volume_{dataset}", can_subset=True)
    def _check(context: dg.AssetCheckExecutionContext) -> Iterator[dg.AssetCheckResult]:
        for check_key in sorted(context.selected_asset_check_keys, key=str):
            yield evaluate_volume(settings, context.instance, check_key)

    return _check


def build_profiling_checks(settings: Settings) -> list[dg.AssetChecksDefinition]:
    """Duplicate, outlier and shift checks on each conformed entity, a re-delivery count on
    each staging model, and a volume check on each raw table."""
    dictionary, mappings = load_mappings_for(settings)
    targets = profiling_targets(dictionary, mappings)
    checks = [c for t in targets for c in _entity_checks(settings, t)]
    checks += [_merged_check(settings, m) for t in targets for m in t.staging_models]
    specs: list[SourceSpec] = load_specs(settings.sources_dir)
    checks += [volume_checks(settings, s.dataset, s.table_names()) for s in specs]
    return checks


def build_profiling_assets(settings: Settings) -> list[dg.AssetsDefinition]:
    """``quality/profile_history``: each build's statistics of every numeric field, appended."""
    dictionary, mappings = load_mappings_for(settings)
    targets = [t for t in profiling_targets(dictionary, mappings) if t.numeric_fields]

    @dg.asset(
        key=PROFILE_HISTORY_KEY,
        deps=[t.asset_key for t in targets],
        group_name="quality",
        kinds={"duckdb"},
        description=(
            "How the numeric fields of every conformed entity are distributed, one row per "
            "entity, field, segment (currency) and build, appended after every build: row "
            "count, share of missing values, mean, median, median absolute deviation and the "
            "1st and 99th percentiles. The `distribution_shift` checks compare each build with "
            "this history; analysts can chart it to see how amounts evolve."
        ),
        metadata={
            "dagster/table_name": f"{settings.warehouse.stem}.{HISTORY_SCHEMA}.{HISTORY_TABLE}",
            "dagster/column_schema": dg.TableSchema(
                columns=[
                    dg.TableColumn(name, type=type_, description=description)
                    for name, (type_, description) in distribution.PROFILE_COLUMNS.items()
                ]
            ),
        },
    )
    def profile_history(context: dg.AssetExecutionContext) -> dg.MaterializeResult:
        profiles, missing = append_profiles(settings, targets, context.run_id)
        if missing:
            context.log.warning(f"not built yet, not profiled: {', '.join(missing)}")
        shown = profiles.drop(columns=["run_id", "profiled_at"])
        return dg.MaterializeResult(
            metadata={
                "rows_appended": len(profiles),
                "entities_not_built": ", ".join(missing) or "—",
                "profiles": sample_md(shown, rows=len(shown)),
            }
        )

    return [profile_history]
