"""Quarantine, not loss: rows of a staging model that break a blocking rule are written to
``quality.quarantine_<entity>`` with the rule, the reason, the source, the load and the time;
the conformed models leave them out. Rebuilding re-evaluates them: once the data or the rule
is fixed they are released (``quality.quarantine_log`` keeps both events), which is the replay.

The same rules run as checks on each staging model (failing rows and their reasons, severity
from the rules); ``mart_rules.py`` checks the marts before a publish.
"""

from dataclasses import dataclass
from datetime import UTC, datetime

import dagster as dg
import duckdb
import pandas as pd

from tributary.contracts.dictionary import SQL_TYPES
from tributary.contracts.resolved import MappedTable, load_mappings_for, mapped_tables
from tributary.contracts.rules import HandRule, load_hand_rules
from tributary.identifiers import ident
from tributary.quality.dirty_data import dirty_data_check
from tributary.quality.rules import (
    RULE_COLUMN,
    EntitySchema,
    entity_schema,
    failures,
    hand_rule_columns,
)
from tributary.settings import Settings
from tributary.warehouse import Warehouse

SCHEMA = "quality"
QUARANTINE_COLUMNS = {
    "rule": "varchar",
    "severity": "varchar",
    "reason": "varchar",
    "source": "varchar",
    "source_table": "varchar",
    "source_id": "varchar",
    "record_id": "varchar",
    "load_id": "varchar",
    "quarantined_at": "timestamp",
    "record": "json",
}
COLUMN_DOCS = {
    "rule": "The rule the row breaks (entity.field.kind, or a hand-written rule's name).",
    "severity": "block: held back from the conformed models and marts.",
    "reason": "What is wrong, in words, with the offending value.",
    "source": "Source system of the row.",
    "source_table": "Its table.",
    "source_id": "The record's id in that system.",
    "record_id": "The delivered row (id, load, file and line): the staging model's _record_id.",
    "load_id": "The dlt load that brought the row.",
    "quarantined_at": "When the row was first quarantined for this rule, UTC.",
    "record": "The row as staged, to review without going back to the source.",
}
LOG = f"{SCHEMA}.quarantine_log"


def quarantine_table(entity: str) -> str:
    return f"quarantine_{entity}"


@dataclass(frozen=True)
class StagedRules:
    """One staging model with the rules of its entity."""

    table: MappedTable
    hand: list[HandRule]

    def evaluate(self, con: duckdb.DuckDBPyConnection) -> tuple[pd.DataFrame, pd.DataFrame]:
        """(the staging rows, one row per failing rule: index, rule, severity, reason)."""
        extra = hand_rule_columns(self.table.entity_name, self.hand)
        # fields this table does not map are null, so a hand-written rule over them passes
        mapped = {f.to for f in self.table.mapping.field_maps().values()}
        missing = {
            name: SQL_TYPES[field.type]
            for name, field in self.table.entity.fields.items()
            if name not in mapped
        }
        nulls = "".join(f", cast(null as {kind}) as {ident(n)}" for n, kind in missing.items())
        star = f"* exclude ({', '.join(map(ident, missing))})" if missing and extra else "*"
        staged = f"staging.{ident(self.table.model)}"
        sql = f"select {star}{extra} from (select *{nulls} from {staged})"
        frame = con.execute(sql if extra else f"select * from {staged}").df()
        return frame, failures(frame, self.schema(set(frame.columns)))

    def schema(self, columns: set[str]) -> EntitySchema:
        return entity_schema(self.table.entity_name, self.table.entity, columns, self.hand)


def quarantine_rows(frame: pd.DataFrame, failed: pd.DataFrame) -> pd.DataFrame:
    """The quarantine rows of a staging model's blocking failures (without quarantined_at)."""
    block = failed[failed["severity"] == "block"]
    record_columns = [
        c for c in frame.columns if not c.startswith(RULE_COLUMN) and c != "_unreadable"
    ]
    rows = []
    for fail in block.itertuples(index=False):
        row = frame.iloc[fail.index]
        record = row[record_columns].to_json(date_format="iso", force_ascii=False)
        rows.append(
            {
                "rule": fail.rule,
                "severity": fail.severity,
                "reason": fail.reason,
                "source": row["_source"],
                "source_table": row["_source_table"],
                "source_id": row["_source_id"],
                "record_id": row["_record_id"],
                "load_id": row["_load_id"],
                "record": record,
            }
        )
    return pd.DataFrame(rows, columns=[c for c in QUARANTINE_COLUMNS if c != "quarantined_at"])


def _create(con: duckdb.DuckDBPyConnection, table: str) -> None:
    columns = ", ".join(f"{name} {kind}" for name, kind in QUARANTINE_COLUMNS.items())
    con.execute(f"create schema if not exists {SCHEMA}")
    con.execute(f"create table if not exists {SCHEMA}.{table} ({columns})")
    con.execute(
        f"create table if not exists {LOG} (event varchar, entity varchar, rule varchar, "
        "source varchar, source_table varchar, source_id varchar, record_id varchar, "
        "reason varchar, logged_at timestamp)"
    )


def write_quarantine(
    con: duckdb.DuckDBPyConnection, entity: str, rows: pd.DataFrame, now: datetime
) -> dict[str, int]:
    """Replace the entity's quarantine with `rows`, keeping when each was first held back,
    and log what entered and what was released."""
    table = quarantine_table(entity)
    _create(con, table)
    key = ["source", "source_table", "record_id", "rule"]
    previous = con.execute(
        f"select {', '.join(key)}, source_id, reason, quarantined_at from {SCHEMA}.{table}"
    ).df()
    # one row per (record, rule), whatever the inputs hold: a repeat would multiply on merge
    rows = rows.drop_duplicates(key)
    previous = previous.sort_values("quarantined_at").drop_duplicates(key)
    merged = rows.merge(previous[[*key, "quarantined_at"]], on=key, how="left")
    merged["quarantined_at"] = merged["quarantined_at"].fillna(
        pd.Timestamp(now.replace(tzinfo=None))
    )
    merged = merged[list(QUARANTINE_COLUMNS)]
    entered = rows.merge(previous[key], on=key, how="left", indicator=True)
    entered = entered[entered["_merge"] == "left_only"]
    released = previous.merge(rows[key], on=key, how="left", indicator=True)
    released = released[released["_merge"] == "left_only"]
    con.execute("begin transaction")
    try:
        con.execute(f"delete from {SCHEMA}.{table}")
        con.register("quarantined_now", merged)
        con.execute(f"insert into {SCHEMA}.{table} select * from quarantined_now")
        log = pd.concat(
            [
                entered.assign(event="quarantined")[["event", *key, "source_id", "reason"]],
                released.assign(event="released")[["event", *key, "source_id", "reason"]],
            ]
        )
        log = log.assign(entity=entity, logged_at=pd.Timestamp(now.replace(tzinfo=None)))
        con.register("log_now", log)
        con.execute(
            f"insert into {LOG} select event, entity, rule, source, source_table, source_id, "
            "record_id, reason, logged_at from log_now"
        )
        con.execute("commit")
    except Exception:
        con.execute("rollback")
        raise
    finally:
        con.unregister("quarantined_now")
        con.unregister("log_now")
    return {"quarantined": len(merged), "entered": len(entered), "released": len(released)}


def _summary(failed: pd.DataFrame) -> str:
    counts = failed.groupby(["rule", "severity"]).size().reset_index(name="rows")
    return counts.to_markdown(index=False)


def _sample(frame: pd.DataFrame, failed: pd.DataFrame, n: int = 10) -> str:
    sample = failed.head(n).copy()
    sample.insert(0, "source_id", [frame.iloc[i]["_source_id"] for i in sample["index"]])
    return sample.drop(columns=["index"]).to_markdown(index=False)


def build_quality_assets(
    settings: Settings,
) -> tuple[list[dg.AssetsDefinition], list[dg.AssetChecksDefinition]]:
    """One quarantine asset per entity; a rules check and a dirty-data threshold per
    staging model."""
    dictionary, mappings = load_mappings_for(settings)
    hand = load_hand_rules(settings.sources_dir, dictionary).rules
    tables = mapped_tables(mappings, dictionary)
    assets, checks = [], []
    for entity in sorted({t.entity_name for t in tables}):
        own = [StagedRules(t, hand) for t in tables if t.entity_name == entity]
        assets.append(_quarantine_asset(entity, own))
        checks += [_staging_check(staged) for staged in own]
        checks += [dirty_data_check(staged) for staged in own]
    return assets, checks


def _quarantine_asset(entity: str, own: list[StagedRules]) -> dg.AssetsDefinition:
    @dg.asset(
        key=[SCHEMA, quarantine_table(entity)],
        group_name="quality",
        deps=[dg.AssetKey(["staging", s.table.model]) for s in own],
        description=f"Rows of {entity} that break a blocking rule, with the rule, the reason, "
        "the source and the load: held back from the conformed models and marts until the "
        "data or the rule is fixed and the graph rebuilt.",
        metadata={
            "dagster/table_name": f"{SCHEMA}.{quarantine_table(entity)}",
            "dagster/column_schema": dg.TableSchema(
                columns=[
                    dg.TableColumn(name, kind, description=COLUMN_DOCS[name])
                    for name, kind in QUARANTINE_COLUMNS.items()
                ]
            ),
        },
    )
    def quarantine(warehouse: Warehouse) -> dg.MaterializeResult:
        with warehouse.connect() as con:
            parts, failed_all = [], []
            for staged in own:
                frame, failed = staged.evaluate(con)
                parts.append(quarantine_rows(frame, failed))
                failed_all.append(failed.assign(model=staged.table.model))
            rows = pd.concat(parts) if parts else quarantine_rows(pd.DataFrame(), pd.DataFrame())
            counts = write_quarantine(con, entity, rows, datetime.now(UTC))
        failed = pd.concat(failed_all)
        metadata: dict = {"dagster/row_count": counts["quarantined"], **counts}
        blocked = failed[failed["severity"] == "block"]
        if not blocked.empty:
            metadata["by_rule"] = dg.MetadataValue.md(_summary(blocked))
            sample = rows.head(10)[["source", "source_id", "rule", "reason"]]
            metadata["sample"] = dg.MetadataValue.md(sample.to_markdown(index=False))
        return dg.MaterializeResult(metadata=metadata)

    return quarantine


def _staging_check(staged: StagedRules) -> dg.AssetChecksDefinition:
    model = staged.table.model

    @dg.asset_check(
        asset=dg.AssetKey(["staging", model]),
        name="dictionary_rules",
        description=f"The {staged.table.entity_name} rules of the data dictionary and "
        "sources/quality/rules.yaml (pandera) on every delivered row. Rows breaking a "
        "blocking rule are quarantined (severity ERROR); warnings flow on.",
    )
    def staging_dictionary_rules(warehouse: Warehouse) -> dg.AssetCheckResult:
        with warehouse.connect(read_only=True) as con:
            frame, failed = staged.evaluate(con)
        return rules_result(frame, failed)

    return staging_dictionary_rules


def rules_result(frame: pd.DataFrame, failed: pd.DataFrame) -> dg.AssetCheckResult:
    if failed.empty:
        return dg.AssetCheckResult(passed=True, metadata={"rows_checked": len(frame)})
    blocking = (failed["severity"] == "block").any()
    return dg.AssetCheckResult(
        passed=False,
        severity=dg.AssetCheckSeverity.ERROR if blocking else dg.AssetCheckSeverity.WARN,
        metadata={
            "rows_checked": len(frame),
            "failing_rows": int(failed["index"].nunique()),
            "by_rule": dg.MetadataValue.md(_summary(failed)),
            "sample": dg.MetadataValue.md(_sample(frame, failed)),
        },
    )
