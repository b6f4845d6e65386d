"""What the monitoring checks look at: each conformed entity's columns, identity and numeric
fields, and how their findings are shown (personal data masked, samples as tables)."""

from dataclasses import dataclass
from typing import Any

import dagster as dg
import pandas as pd

from tributary.contracts.dictionary import Dictionary, Entity
from tributary.contracts.mapping import SourceMapping
from tributary.contracts.resolved import conformed_columns, mapped_tables
from tributary.identifiers import ident
from tributary.quality.monitors.distribution import NumericField
from tributary.quality.monitors.duplicates import Identity

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


def number(value: Any) -> str:
    """A statistic as people read it: six significant digits, empty when there is none."""
    return "" if value is None or pd.isna(value) else f"{float(value):,.6g}"


def shown(target: EntityTarget, column: str, values: pd.Series) -> pd.Series:
    return values.map(mask) if target.personal(column) else values
