"""The mappings resolved against the dictionary and the sources: which source table feeds which
entity, under which warehouse columns. The dbt generator (``standardize/``) writes models from
it; the quality layer checks and reconciles the same tables.
"""

import re
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from tributary.contracts.dictionary import Dictionary, Entity, dictionary_path, load_dictionary
from tributary.contracts.mapping import SourceMapping, TableMapping, load_mappings
from tributary.contracts.source import load_specs
from tributary.contracts.specfile import SpecError, SpecErrors
from tributary.settings import Settings

_BARE = re.compile(r"^[a-z_][a-z0-9_]*$")
_RESERVED = {"order", "group", "select", "from", "where", "user", "date", "table", "end", "case"}


def quote(column: str) -> str:
    """A column name as SQL: bare when it is plain lower snake_case, else double-quoted."""
    if _BARE.match(column) and column not in _RESERVED:
        return column
    return '"' + column.replace('"', '""') + '"'


@dataclass(frozen=True)
class MappedTable:
    """One source table mapped onto an entity: the unit a staging model is generated for."""

    source: SourceMapping
    table: str
    mapping: TableMapping
    entity_name: str
    entity: Entity

    @property
    def model(self) -> str:
        return f"stg_{self.source.name}__{self.table}"

    @property
    def cte(self) -> str:
        return f"{self.source.name}__{self.table}"

    @property
    def row_position(self) -> dict[str, str]:
        """Raw column -> lineage column of what places a row in its delivery (file, line)."""
        return self.source.spec.section.ROW_POSITION

    def column(self, source_field: str) -> str:
        return quote(self.source.raw_column(source_field))

    def id_fields(self) -> list[str]:
        if self.mapping.id:
            return [self.mapping.id]
        by_target = {f.to: name for name, f in self.mapping.field_maps().items()}
        return [by_target[k] for k in self.entity.keys]


def mapped_tables(mappings: Iterable[SourceMapping], dictionary: Dictionary) -> list[MappedTable]:
    return [
        MappedTable(m, table, tmap, tmap.entity, dictionary.entities[tmap.entity])
        for m in sorted(mappings, key=lambda m: m.name)
        for table, tmap in sorted(m.mapping.tables.items())
    ]


def xref_seed(entity_name: str) -> str:
    return f"xref_{entity_name}"


def conformed_columns(entity: Entity, tables: list[MappedTable]) -> list[str]:
    mapped = {f.to for t in tables for f in t.mapping.field_maps().values()}
    columns = []
    for name, field in entity.fields.items():
        if name not in mapped:
            continue
        columns.append(name)
        if field.type == "money":
            columns.append(f"{name}_currency")
    return columns


def load_mappings_for(settings: Settings) -> tuple[Dictionary, list[SourceMapping]]:
    """The dictionary and every mapping under the settings' sources folder, validated."""
    specs = load_specs(settings.sources_dir)
    dictionary = load_dictionary(settings.sources_dir)
    mappings = load_mappings(settings.sources_dir, specs, dictionary)
    missing = [
        name
        for name, entity in dictionary.entities.items()
        if "xref" in entity.match and not xref_path(settings, name).exists()
    ]
    if missing:
        raise SpecErrors(
            [
                SpecError(
                    dictionary_path(settings.sources_dir),
                    None,
                    f"{name}: match rule `xref` needs {xref_path(settings, name)}",
                    "create it with the header line `source,source_id,canonical_id`",
                )
                for name in missing
            ]
        )
    return dictionary, mappings


def xref_path(settings: Settings, entity_name: str) -> Path:
    return settings.dbt_project_dir / "seeds" / "xref" / f"{xref_seed(entity_name)}.csv"
