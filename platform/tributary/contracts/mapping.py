"""Mappings (``sources/<source>.mapping.yaml``): which field of a source system's table feeds
which canonical field of the data dictionary, and the conversion it needs on the way.

Source field names are the system's own, as it sends them (``staffID``, ``金额(USD)``);
``raw_column`` gives the warehouse column dlt wrote for one under the source's naming.
"""

import difflib
import zoneinfo
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

import yaml
from dlt.common.normalizers.naming import snake_case
from pydantic import Field, field_validator, model_validator

from tributary.contracts.currencies import ISO_4217
from tributary.contracts.dictionary import CanonicalField, Dictionary, Entity
from tributary.contracts.source import SourceSpec
from tributary.contracts.specfile import SpecError, SpecErrors, Strict, line_of, load_model

MAPPING_SUFFIX = ".mapping.yaml"


class FieldMap(Strict):
    to: str = Field(description="The canonical field of the table's entity this field feeds.")
    formats: list[str] | None = Field(
        None,
        description="For dates and timestamps: accepted formats, tried in order — strptime "
        "patterns (`%d/%m/%Y`, `%Y年%m月%d日`) or `iso`, `epoch_s`, `epoch_ms`, `excel_serial`.",
    )
    timezone: str | None = Field(
        None, description="For timestamps without an offset: the IANA zone they are local to."
    )
    codes: dict[str, str] | None = Field(
        None, description="For codes: this system's value → canonical code, added to the "
        "dictionary's. Values in neither are reported by a check, never passed through.",
    )  # fmt: skip
    when_missing: str | None = Field(None, description="For codes: the code of an empty value.")
    currency: str | None = Field(None, description="For money: the ISO currency of every amount.")
    currency_field: str | None = Field(
        None, description="For money: the source field that holds each amount's currency."
    )
    decimal_mark: Literal[".", ","] = Field(
        ".", description="`,` when the system writes 1.234,50 (thousands with dots)."
    )
    case: Literal["lower", "upper"] | None = Field(None, description="For text: change case.")
    factor: float | None = Field(
        None, description="For numbers: multiply by this (e.g. 0.01 for cents to yuan)."
    )
    join: list[str] | None = Field(
        None,
        description="For text: further source fields joined to this one with a space, in "
        "order, empty ones skipped (`firstName: {to: full_name, join: [lastName]}`).",
    )

    @field_validator("timezone")
    @classmethod
    def _iana_zone(cls, value: str | None) -> str | None:
        if value is not None:
            try:
                zoneinfo.ZoneInfo(value)
            except (ValueError, zoneinfo.ZoneInfoNotFoundError):
                raise ValueError(
                    f"{value[:40]!r} is not an IANA time zone: write e.g. Asia/Shanghai or UTC"
                ) from None
        return value

    @field_validator("currency")
    @classmethod
    def _iso_currency(cls, value: str | None) -> str | None:
        if value is not None and value not in ISO_4217:
            close = difflib.get_close_matches(value.upper(), sorted(ISO_4217), n=1)
            hint = f" (did you mean {close[0]}?)" if close else ""
            raise ValueError(
                f"{value[:20]!r} is not an ISO 4217 currency code: write three capitals such "
                f"as CNY, USD or EUR{hint}"
            )
        return value

    @model_validator(mode="after")
    def _one_currency(self) -> "FieldMap":
        if self.currency and self.currency_field:
            raise ValueError("give `currency` or `currency_field`, not both")
        return self


class TableMapping(Strict):
    entity: str = Field(description="The dictionary entity one row of this table is.")
    id: str | None = Field(
        None,
        description="The source field with the system's own id for the record (the crosswalk "
        "shows it). Default: the field mapped to the entity's key.",
    )
    updated_at: str | None = Field(
        None,
        description="The source field with the record's last change (ISO timestamp): the "
        "newest version of a duplicated record wins, and `most_recent` survivorship uses it.",
    )
    fields: dict[str, str | FieldMap] = Field(
        description="Source field → canonical field, or {to: field, …conversion options}."
    )

    def field_maps(self) -> dict[str, FieldMap]:
        return {k: FieldMap(to=v) if isinstance(v, str) else v for k, v in self.fields.items()}

    def source_fields(self) -> set[str]:
        """Every source field the table's fields read, the joined ones included."""
        return {f for k, m in self.field_maps().items() for f in (k, *(m.join or []))}


class Mapping(Strict):
    tables: dict[str, TableMapping] = Field(
        description="This source's tables (as in its source file) → their mapping."
    )


@dataclass(frozen=True)
class SourceMapping:
    """One source system's mapping with what generating its models needs."""

    spec: SourceSpec
    mapping: Mapping
    path: Path

    @property
    def name(self) -> str:
        return self.spec.name

    def raw_column(self, source_field: str) -> str:
        return raw_column(source_field, self.spec.naming)


def raw_column(source_field: str, naming: str) -> str:
    """The warehouse column dlt writes for a source field under a source's naming convention."""
    if naming == "duck_case":
        return source_field
    return snake_case.NamingConvention().normalize_identifier(source_field)


def mapping_path(sources_dir: Path, source: str) -> Path:
    return sources_dir / f"{source}{MAPPING_SUFFIX}"


_OPTIONS_FOR: dict[str, set[str]] = {
    "formats": {"date", "timestamp"},
    "timezone": {"timestamp"},
    "codes": {"code"},
    "when_missing": {"code"},
    "currency": {"money"},
    "currency_field": {"money"},
    "decimal_mark": {"money", "decimal", "integer"},
    "case": {"string", "id"},
    "factor": {"money", "decimal", "integer"},
    "join": {"string"},
}


def _field_problems(fmap: FieldMap, canonical: CanonicalField) -> list[str]:
    problems = [
        f"`{option}` does not apply to a {canonical.type} field "
        f"(it is for {', '.join(sorted(types))})"
        for option, types in _OPTIONS_FOR.items()
        if option in fmap.model_fields_set and canonical.type not in types
    ]
    allowed = set(canonical.canonical_codes())
    unknown = sorted({*(fmap.codes or {}).values(), fmap.when_missing} - allowed - {None})
    if canonical.type == "code" and unknown:
        problems.append(
            f"code(s) {', '.join(unknown)} are not canonical ({', '.join(sorted(allowed))}): "
            "map onto the dictionary's codes, or add them there"
        )
    if canonical.type == "money" and not (fmap.currency or fmap.currency_field):
        problems.append("a money field needs `currency: <ISO code>` or `currency_field: <field>`")
    return problems


def _did_you_mean(word: str, choices: list[str]) -> str:
    close = difflib.get_close_matches(word, choices, n=1)
    return f"did you mean `{close[0]}`?" if close else f"one of: {', '.join(choices)}"


Mistake = tuple[tuple, str, str]  # where in the file (a path of keys), what, how to fix it


def _table_mistakes(loc: tuple, tmap: TableMapping, entity: Entity) -> list[Mistake]:
    """One table's fields against its entity: unknown or twice-fed fields, misplaced
    options, and a key the records cannot be identified without."""
    mistakes: list[Mistake] = []
    targets: dict[str, str] = {}
    for source_field, fmap in tmap.field_maps().items():
        floc = (*loc, "fields", source_field)
        canonical = entity.fields.get(fmap.to)
        if canonical is None:
            fix = _did_you_mean(fmap.to, list(entity.fields)) + " (or add it to the dictionary)"
            mistakes.append((floc, f"{tmap.entity} has no field {fmap.to!r}", fix))
            continue
        if fmap.to in targets:
            mistakes.append(
                (floc, f"{fmap.to!r} is already fed by {targets[fmap.to]!r}", "map it once")
            )
        targets[fmap.to] = source_field
        mistakes += [
            (floc, f"{source_field}: {problem}", "") for problem in _field_problems(fmap, canonical)
        ]
    missing = [k for k in entity.keys if k not in targets]
    if missing and (len(entity.keys) > 1 or entity.match == ["key"]):
        message = f"the key field(s) {', '.join(missing)} of {tmap.entity} are not mapped"
        fix = "map the source field that identifies the record to it"
        mistakes.append(((*loc, "fields"), message, fix))
    if tmap.id is None and len(entity.keys) == 1 and missing:
        message = "no `id`: the record's own id cannot default to the unmapped key"
        mistakes.append((loc, message, "set `id: <source field>`"))
    return mistakes


def check_mapping(
    path: Path, node: yaml.Node, mapping: Mapping, spec: SourceSpec, dictionary: Dictionary
) -> list[SpecError]:
    """Mistakes only visible next to the source file and the dictionary, each with its line."""
    mistakes: list[Mistake] = []
    tables = spec.table_names()
    for table, tmap in mapping.tables.items():
        loc = ("tables", table)
        entity: Entity | None = dictionary.entities.get(tmap.entity)
        if table not in tables:
            mistakes.append(
                (loc, f"{spec.name} has no table {table!r}", _did_you_mean(table, tables))
            )
        elif entity is None:
            fix = _did_you_mean(tmap.entity, list(dictionary.entities))
            mistakes.append(((*loc, "entity"), f"no entity {tmap.entity!r} in the dictionary", fix))
        else:
            mistakes += _table_mistakes(loc, tmap, entity)
    return [SpecError(path, line_of(node, loc), message, fix) for loc, message, fix in mistakes]


def load_mappings(
    sources_dir: Path, specs: list[SourceSpec], dictionary: Dictionary
) -> list[SourceMapping]:
    """Every source's mapping file (a source may have none), or SpecErrors for all mistakes."""
    by_name = {s.name: s for s in specs}
    found, errors = [], []
    for path in sorted(sources_dir.glob(f"*{MAPPING_SUFFIX}")):
        source = path.name.removesuffix(MAPPING_SUFFIX)
        spec = by_name.get(source)
        if spec is None:
            errors.append(
                SpecError(
                    path,
                    1,
                    f"no source {source!r} for this mapping",
                    f"name it <source>{MAPPING_SUFFIX} after a file in {sources_dir}",
                )
            )
            continue
        try:
            mapping, node = load_model(path, Mapping)
        except SpecErrors as exc:
            errors.extend(exc.errors)
            continue
        problems = check_mapping(path, node, mapping, spec, dictionary)
        errors.extend(problems)
        if not problems:
            found.append(SourceMapping(spec, mapping, path))
    if errors:
        raise SpecErrors(errors)
    return found


def _source_fields(tmap: TableMapping) -> list[tuple[tuple, str]]:
    """Every source field a table's mapping names, with where in the file it is named."""
    named = [(("fields", name), name) for name in tmap.fields]
    named += [((key,), getattr(tmap, key)) for key in ("id", "updated_at") if getattr(tmap, key)]
    named += [
        (("fields", name, "currency_field"), f.currency_field)
        for name, f in tmap.field_maps().items()
        if f.currency_field
    ]
    return named


def unknown_source_fields(
    mapping: SourceMapping, columns: dict[str, set[str]], loaded: str
) -> list[SpecError]:
    """Source fields the last load did not bring: dbt would fail on them only later.

    ``columns`` holds each raw table's columns as last loaded (``loaded`` says where they were
    read); a table not loaded yet is not checked.
    """
    node = yaml.compose(mapping.path.read_text(encoding="utf-8"))
    errors = []
    for table, tmap in mapping.mapping.tables.items():
        known = columns.get(table)
        if not known:
            continue
        for loc, field in _source_fields(tmap):
            raw = mapping.raw_column(field)
            if raw in known:
                continue
            where = ("tables", table, *loc)
            message = (
                f"{'.'.join(where)}: source field {field!r} (raw column {raw!r}) is not in "
                f"{mapping.spec.dataset}.{table} as last loaded ({loaded})"
            )
            fix = _did_you_mean(raw, sorted(c for c in known if not c.startswith("_dlt_")))
            fix += ", or load the source again if the system added it since"
            errors.append(SpecError(mapping.path, line_of(node, where), message, fix))
    return errors
