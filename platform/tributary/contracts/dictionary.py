"""The data dictionary (``sources/dictionary/entities.yaml``): the canonical entities, their
fields, and how records of one entity from several systems become one.

Which source field feeds which canonical field is not here: each source system has its own
mapping file beside its source file (see ``mapping.py``).
"""

import re
from pathlib import Path
from typing import Literal

from pydantic import Field, model_validator

from tributary.contracts.specfile import NAME_PATTERN, Strict, load_model

FieldType = Literal[
    "id", "string", "integer", "decimal", "money", "date", "timestamp", "code", "email", "phone",
    "boolean",
]  # fmt: skip
PersonalData = Literal["name", "gender", "contact", "compensation", "identifier", "birth"]
# The DuckDB type each field type is stored as, from staging on.
SQL_TYPES = {
    "id": "varchar",
    "string": "varchar",
    "code": "varchar",
    "email": "varchar",
    "phone": "varchar",
    "integer": "bigint",
    "decimal": "decimal(18,6)",
    "money": "decimal(18,2)",
    "date": "date",
    "timestamp": "timestamp",
    "boolean": "boolean",
}


class CanonicalField(Strict):
    type: FieldType
    description: str = Field(description="What the field means, written for an analyst.")
    format: str | None = Field(
        None, description="For `id`: a printf format such as `E%05d` every system's id becomes."
    )
    unit: str | None = Field(None, description="Unit of a number (kg, pcs, %).")
    codes: dict[str, str] | None = Field(
        None, description="For `code`: accepted value → canonical code; mappings may add more."
    )
    when_missing: str | None = Field(None, description="Canonical code for an empty value.")
    as_of: str | None = Field(
        None,
        description="For `money`: the date field whose FX rate converts it to the base "
        "currency (`<field>_base`). Without it the amount stays in its own currency.",
    )
    required: bool = Field(False, description="Every conformed record must have a value.")
    min: float | str | None = Field(
        None, description="Smallest valid value (a number, or an ISO date for dates)."
    )
    max: float | str | None = Field(
        None, description="Largest valid value (a number, or an ISO date for dates)."
    )
    pattern: str | None = Field(None, description="Regular expression every value must match.")
    severity: Literal["warn", "block"] | None = Field(
        None,
        description="What breaking this field's rules does: `block` quarantines the row (it "
        "never reaches the marts), `warn` reports it. Default: block for the key and "
        "required fields, warn otherwise.",
    )
    personal_data: PersonalData | None = Field(
        None, description="Kind of personal data, for masking and access rules."
    )
    synonyms: list[str] = Field(
        [], description="Other names systems use for it (English, Chinese…), for suggestions."
    )

    @model_validator(mode="after")
    def _type_options(self) -> "CanonicalField":
        if self.type == "code" and not self.codes:
            raise ValueError("a `code` field needs `codes` (accepted value → canonical code)")
        if self.type != "code" and (self.codes or self.when_missing):
            raise ValueError("`codes` and `when_missing` are only for `code` fields")
        if self.as_of and self.type != "money":
            raise ValueError("`as_of` is only for `money` fields")
        if self.format and self.type != "id":
            raise ValueError("`format` is only for `id` fields")
        return self

    def rule_severity(self, is_key: bool) -> str:
        return self.severity or ("block" if self.required or is_key else "warn")

    def canonical_codes(self) -> list[str]:
        values = set((self.codes or {}).values())
        return sorted(values | ({self.when_missing} if self.when_missing else set()))


MatchRule = str  # `key`, or a field name: see Entity.match


class Survivorship(Strict):
    default: list[str] | Literal["most_recent"] = Field(
        description="Which system wins a field: an ordered list of source names (first with a "
        "value wins; systems not listed come after), or `most_recent`."
    )
    fields: dict[str, list[str] | Literal["most_recent"]] = Field(
        {}, description="Per-field exceptions to `default`."
    )


class Entity(Strict):
    description: str
    synonyms: list[str] = Field(
        [], description="Other names systems give its tables (client, staff…), for suggestions."
    )
    key: str | list[str] = Field(
        description="The canonical key: one field, or several for a composite key."
    )
    match: list[MatchRule] = Field(
        ["key"],
        description="How a record finds its canonical key, tried in order: `key` (the key "
        "its mapping computes), `xref` (the cross-reference a data steward keeps in "
        "dbt_project/seeds/xref/xref_<entity>.csv: source, source_id, canonical_id), or a "
        "field name (e.g. `email`: a record without a key takes the key of the one keyed "
        "record with the same normalized value).",
    )
    survivorship: Survivorship = Field(
        Survivorship(default="most_recent"),
        description="Which system's value a conformed record takes, per field.",
    )
    mart: str | None = Field(None, description="The dbt mart analysts read this entity from.")
    identify_by: list[str] = Field(
        [],
        description="Fields that identify a record to a person (e.g. company_name, phone): "
        "records agreeing on them after normalization are reported as likely duplicates.",
    )
    fields: dict[str, CanonicalField]

    @property
    def keys(self) -> list[str]:
        return [self.key] if isinstance(self.key, str) else list(self.key)

    @model_validator(mode="after")
    def _names_exist(self) -> "Entity":
        bad = [n for n in self.fields if not re.match(NAME_PATTERN, n)]
        if bad:
            raise ValueError(f"field names must be lower snake_case: {', '.join(bad)}")
        unknown = [k for k in self.keys if k not in self.fields]
        if unknown:
            raise ValueError(f"key {', '.join(unknown)} is not one of the fields")
        for rule in self.match:
            if rule not in ("key", "xref") and rule not in self.fields:
                raise ValueError(f"match rule {rule!r} is not `key`, `xref` or one of the fields")
        if len(self.keys) > 1 and set(self.match) - {"key"}:
            raise ValueError("an entity with a composite key matches by `key` only")
        unknown = sorted(set(self.identify_by) - set(self.fields))
        if unknown:
            raise ValueError(f"identify_by names unknown field(s): {', '.join(unknown)}")
        unknown = sorted(set(self.survivorship.fields) - set(self.fields))
        if unknown:
            raise ValueError(f"survivorship names unknown field(s): {', '.join(unknown)}")
        for name, spec in self.fields.items():
            if spec.as_of and self.fields.get(spec.as_of, spec).type != "date":
                raise ValueError(f"{name}: `as_of` must name a date field of this entity")
        return self


class Dictionary(Strict):
    entities: dict[str, Entity]

    @model_validator(mode="after")
    def _entity_names(self) -> "Dictionary":
        bad = [n for n in self.entities if not re.match(NAME_PATTERN, n)]
        if bad:
            raise ValueError(f"entity names must be lower snake_case: {', '.join(bad)}")
        return self


def dictionary_path(sources_dir: Path) -> Path:
    return sources_dir / "dictionary" / "entities.yaml"


def load_dictionary(sources_dir: Path) -> Dictionary:
    model, _ = load_model(dictionary_path(sources_dir), Dictionary)
    return model
