"""The data dictionary (``sources/dictionary/entities.yaml``): canonical entities and fields,
and which source field feeds each one.

Source field names are the systems' own, before dlt normalizes them (``staffID``); use
``raw_column`` to get the warehouse column a mapping reads.
"""

from pathlib import Path
from typing import Literal

from dlt.common.normalizers.naming import snake_case
from pydantic import Field, model_validator

from tributary.specfile import Strict, load_model

FieldType = Literal[
    "string", "integer", "decimal", "money", "date", "timestamp", "code", "email", "phone"
]
PersonalData = Literal["name", "gender", "contact", "compensation", "identifier"]


class CanonicalField(Strict):
    type: FieldType
    description: str
    unit: str | None = Field(None, description="Currency or unit; `base_currency` for marts.")
    format: str | None = None
    codes: dict[str, str] | None = Field(None, description="Source code → canonical code.")
    when_missing: str | None = Field(None, description="Canonical code for an empty value.")
    personal_data: PersonalData | None = None
    synonyms: list[str] = []


class Entity(Strict):
    description: str
    mart: str = Field(description="The dbt mart analysts read this entity from.")
    key: str
    fields: dict[str, CanonicalField]
    sources: dict[str, dict[str, str]] = Field(
        description="`<source>.<table>` → {source field: canonical field}."
    )

    @model_validator(mode="after")
    def _names_exist(self) -> "Entity":
        if self.key not in self.fields:
            raise ValueError(f"key {self.key!r} is not one of the fields")
        for table, mapping in self.sources.items():
            if table.count(".") != 1:
                raise ValueError(f"source {table!r} must be written `<source>.<table>`")
            unknown = sorted(set(mapping.values()) - set(self.fields))
            if unknown:
                raise ValueError(f"{table} maps to unknown field(s): {', '.join(unknown)}")
        return self


class Dictionary(Strict):
    entities: dict[str, Entity]


def load_dictionary(sources_dir: Path) -> Dictionary:
    model, _ = load_model(sources_dir / "dictionary" / "entities.yaml", Dictionary)
    return model


def raw_column(source_field: str, naming: str) -> str:
    """The warehouse column dlt writes for a source field under a source's naming convention."""
    if naming == "duck_case":
        return source_field
    return snake_case.NamingConvention().normalize_identifier(source_field)
