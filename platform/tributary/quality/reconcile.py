"""Reconciliation: for every source table of an entity, the rows that came in are the rows that
went out, plus those quarantined, plus re-deliveries merged, plus those no match rule placed —
each term counted from its own layer (raw table, staging, quarantine, crosswalk, conformed).
An unexplained difference fails a blocking check: the snapshot is not published.
"""

from dataclasses import dataclass

import dagster as dg
import duckdb
import pandas as pd

from tributary.contracts.resolved import MappedTable, load_mappings_for, mapped_tables
from tributary.graph import AUDIT_METADATA
from tributary.identifiers import ident
from tributary.quality.quarantine import SCHEMA, quarantine_table
from tributary.settings import Settings
from tributary.warehouse import Warehouse

TERMS = ["rows_in", "staged", "rows_out", "quarantined", "duplicates_merged", "unmatched"]


@dataclass(frozen=True)
class Ledger:
    source_table: str
    rows_in: int  # rows in the raw table dlt loaded
    staged: int  # rows of the staging model
    rows_out: int  # delivered records the conformed model merged into its rows
    quarantined: int  # rows held back by a blocking rule
    duplicates_merged: int  # older deliveries of a record a newer one replaced
    unmatched: int  # records no match rule gave a canonical key

    @property
    def unexplained(self) -> int:
        explained = self.rows_out + self.quarantined + self.duplicates_merged + self.unmatched
        # each layer's difference on its own: errors of opposite sign must not cancel
        return abs(self.rows_in - self.staged) + abs(self.staged - explained)


def ledger(con: duckdb.DuckDBPyConnection, t: MappedTable) -> Ledger:
    """Count each term of one source table from the layer that holds it."""
    entity, single = t.entity_name, len(t.entity.keys) == 1
    name = f"{t.source.name}.{t.table}"
    held = f"{ident(SCHEMA)}.{ident(quarantine_table(entity))}"
    staged = f"staging.{ident(t.model)}"
    conformed = f"intermediate.{ident(f'int_{entity}__conformed')}"
    kept = (
        f"select * from {staged} as s where not exists (select 1 from {held} as q "
        "where q.source = s._source and q.source_table = s._source_table "
        "and q.record_id = s._record_id)"
    )
    unmatched = (
        f"(select count(*) from (select distinct _source_id from ({kept})) as k "
        f"join intermediate.{ident(f'int_{entity}__crosswalk')} as c on c.source = ? and "
        f"c.source_table = ? and c.source_id = k._source_id "
        f"where c.{ident(t.entity.keys[0])} is null)"
        if single
        else "0"
    )
    row = con.execute(
        f"""
        select
            (select count(*) from {ident(t.source.spec.dataset)}.{ident(t.table)}),
            (select count(*) from {staged}),
            (select coalesce(sum(list_count(list_filter(_merged_from, lambda x: x = ?))), 0)
             from {conformed}),
            (select count(distinct record_id) from {held}
             where source = ? and source_table = ?),
            (select count(*) - count(distinct _source_id) from ({kept})),
            {unmatched}
        """,
        [name, t.source.name, t.table] + ([t.source.name, t.table] if single else []),
    ).fetchone()
    return Ledger(name, *(int(v) for v in row))


def mart_rows(con: duckdb.DuckDBPyConnection, entity: str, mart: str) -> tuple[int, int]:
    """(conformed rows, mart rows): a mart holds one row per conformed record."""
    conformed_model = ident(f"int_{entity}__conformed")
    conformed = con.execute(f"select count(*) from intermediate.{conformed_model}").fetchone()
    marts = con.execute(f"select count(*) from marts.{ident(mart)}").fetchone()
    return int(conformed[0]), int(marts[0])


def build_reconciliation_checks(settings: Settings) -> list[dg.AssetChecksDefinition]:
    dictionary, mappings = load_mappings_for(settings)
    tables = mapped_tables(mappings, dictionary)
    checks = []
    for entity in sorted({t.entity_name for t in tables}):
        own = [t for t in tables if t.entity_name == entity]
        checks.append(_check(entity, own, dictionary.entities[entity].mart))
    return checks


def _check(entity: str, own: list[MappedTable], mart: str | None) -> dg.AssetChecksDefinition:
    target = ["marts", mart] if mart else ["intermediate", f"int_{entity}__conformed"]
    deps = [
        dg.AssetKey(["intermediate", f"int_{entity}__conformed"]),
        dg.AssetKey([SCHEMA, quarantine_table(entity)]),
    ]

    @dg.asset_check(
        asset=dg.AssetKey(target),
        name="reconciliation",
        blocking=True,
        metadata=AUDIT_METADATA,
        additional_deps=[d for d in deps if d.path != target],
        description=f"Rows in = rows out + quarantined + duplicates merged + unmatched, for "
        f"every source table of {entity}, each term counted in its own layer; and one mart "
        "row per conformed record. An unexplained difference blocks the publish.",
    )
    def reconciliation(warehouse: Warehouse) -> dg.AssetCheckResult:
        with warehouse.connect(read_only=True) as con:
            ledgers = [ledger(con, t) for t in own]
            layers = mart_rows(con, entity, mart) if mart else None
        table = pd.DataFrame(
            [{"source_table": g.source_table, **{k: getattr(g, k) for k in TERMS},
              "unexplained": g.unexplained} for g in ledgers]
        )  # fmt: skip
        unexplained = int(table["unexplained"].abs().sum())
        metadata: dict = {
            "ledger": dg.MetadataValue.md(table.to_markdown(index=False)),
            "unexplained": unexplained,
            **{k: int(table[k].sum()) for k in TERMS},
        }
        if layers:
            metadata |= {"conformed_rows": layers[0], "mart_rows": layers[1]}
            unexplained += abs(layers[0] - layers[1])
        return dg.AssetCheckResult(passed=unexplained == 0, metadata=metadata)

    return reconciliation
