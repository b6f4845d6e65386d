""" "No entity fits": a new entity with the table's columns as its fields, written as a patch
to review (``sources/dictionary/proposed/<entity>.yaml``), valid against the dictionary
contract and never merged by a program. A person moves it into ``entities.yaml`` (naming,
describing and typing its fields better), then suggests again: the table then maps by name.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml

from tributary.contracts.dictionary import Dictionary, Entity
from tributary.standardize.suggest.entities import new_entity_name
from tributary.standardize.suggest.names import ID_WORDS, normalize_name
from tributary.standardize.suggest.profiles import ColumnProfile

MONEY_WORDS = {"price", "amount", "total", "cost", "fee", "salary", "subtotal", "tax"}
SCHEMA_LINE = "# yaml-language-server: $schema=../../schemas/dictionary.schema.json"


def proposal_path(sources_dir: Path, entity: str) -> Path:
    return sources_dir / "dictionary" / "proposed" / f"{entity}.yaml"


def _field_name(column: str, index: int) -> str:
    text = normalize_name(column).text
    return (
        text if text[:1].isascii() and text[:1].isalpha() and text.isascii() else f"field_{index}"
    )


def _field_type(profile: ColumnProfile, is_key: bool) -> str:
    tokens = set(normalize_name(profile.name).tokens)
    kind = profile.kind
    if kind == "integer":
        return "integer"
    if kind == "decimal":
        return "money" if tokens & MONEY_WORDS else "decimal"
    if kind in ("date", "timestamp", "boolean"):
        return kind
    for shape in ("email", "phone", "timestamp"):
        if profile.sample and profile.share(shape) >= 0.9:
            return shape
    return "id" if is_key or tokens & ID_WORDS else "string"


def _key(profiles: list[ColumnProfile]) -> ColumnProfile:
    """The column that identifies a row: unique and named like an id, else the first unique."""
    unique = [p for p in profiles if p.unique and p.nulls == 0]
    named = [p for p in unique if set(normalize_name(p.name).tokens) & ID_WORDS]
    return (named or unique or profiles)[0]


def proposed_entity(source: str, table: str, profiles: list[ColumnProfile]) -> tuple[str, dict]:
    """(entity name, its definition) for a table no entity fits; valid as a dictionary entry."""
    key = _key(profiles)
    fields: dict[str, Any] = {}
    for i, p in enumerate(profiles):
        name = _field_name(p.name, i)
        field: dict[str, Any] = {
            "type": _field_type(p, p is key),
            "description": f"{table}.{p.name} as {source} sends it: say what it means.",
        }
        if p is key:
            field["required"] = True
        if name != p.name:
            field["synonyms"] = [p.name]
        fields.setdefault(name, field)
    data = {
        "description": f"Proposed from {source}.{table} by `tributary map suggest`: "
        "say what one record is.",
        "key": _field_name(key.name, profiles.index(key)),
        "fields": fields,
    }
    Entity.model_validate(data)  # a proposal is always a valid dictionary entry
    return new_entity_name(table), data


def proposal_text(entity: str, data: dict) -> str:
    Dictionary.model_validate({"entities": {entity: data}})
    header = [
        SCHEMA_LINE,
        f"# {entity}: proposed by `tributary map suggest`, as no entity of the dictionary fits.",
        "# Review it (names, descriptions, types), move it into ../entities.yaml, then run",
        "# `tributary map suggest` again. Nothing merges this file by itself.",
    ]
    body = yaml.safe_dump(
        {"entities": {entity: data}}, sort_keys=False, allow_unicode=True, width=100
    )
    return "\n".join(header) + "\n" + body


def write_proposal(sources_dir: Path, entity: str, data: dict) -> tuple[Path, bool]:
    """Write the proposal unless a file for the entity exists: (its path, whether written)."""
    path = proposal_path(sources_dir, entity)
    if path.exists():
        return path, False
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(proposal_text(entity, data), encoding="utf-8")
    return path, True
