"""``quality/profile_history``: each build's statistics of every numeric field, appended, the
memory the distribution-shift checks compare against."""

from datetime import UTC, datetime

import dagster as dg
import pandas as pd

from tributary.contracts.resolved import load_mappings_for
from tributary.graph import table_metadata
from tributary.identifiers import ident
from tributary.quality.monitors import distribution
from tributary.quality.monitors.targets import (
    CONFORMED_SCHEMA,
    HISTORY_SCHEMA,
    HISTORY_TABLE,
    PROFILE_HISTORY_KEY,
    EntityTarget,
    profiling_targets,
    sample_md,
)
from tributary.settings import Settings
from tributary.warehouse import Warehouse


def append_profiles(
    warehouse: Warehouse, targets: list[EntityTarget], run_id: str
) -> tuple[pd.DataFrame, list[str]]:
    """Take every built target's statistics now and append them to the history table.
    Returns the rows appended and the entities whose model is not built yet."""
    now = datetime.now(UTC).replace(tzinfo=None)
    frames, missing = [], []
    with warehouse.connect() as con:
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


def build_history_assets(settings: Settings) -> list[dg.AssetsDefinition]:
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
        metadata=table_metadata(
            f"{settings.warehouse.stem}.{HISTORY_SCHEMA}.{HISTORY_TABLE}",
            distribution.PROFILE_COLUMNS,
        ),
    )
    def profile_history(
        context: dg.AssetExecutionContext, warehouse: Warehouse
    ) -> dg.MaterializeResult:
        profiles, missing = append_profiles(warehouse, targets, context.run_id)
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
