"""Accepting (``--accept``): the suggestions at or above a confidence into the mapping file,
table by table, validated as `load_mappings` would before the file is replaced."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml
from pydantic import ValidationError

from tributary.contracts.dictionary import Dictionary
from tributary.contracts.mapping import Mapping, TableMapping, check_mapping
from tributary.contracts.source import SourceSpec
from tributary.contracts.specfile import SpecError
from tributary.standardize.suggest.mapping_edit import (
    Entry,
    TableAddition,
    new_file,
    with_additions,
)
from tributary.standardize.suggest.proposals import write_proposal
from tributary.standardize.suggest.source import SourceSuggestions, SuggestError
from tributary.standardize.suggest.table import TableSuggestion


def _merged(existing: TableMapping | None, addition: TableAddition) -> dict[str, Any]:
    data = existing.model_dump(exclude_defaults=True) if existing else {"fields": {}}
    if addition.entity:
        data["entity"] = addition.entity
    if addition.updated_at:
        data["updated_at"] = addition.updated_at
    data["fields"] = {**data.get("fields", {}), **{e.key: e.value for e in addition.fields}}
    return data


def _entries(t: TableSuggestion, min_confidence: float, notes: list[str]) -> list[Entry]:
    """The table's suggestions sure enough to write; a note for each that cannot be written."""
    entries = []
    for s in t.fields:
        if s.confidence < min_confidence:
            continue
        if s.problem:
            notes.append(f"left out {t.table}.{s.column} → {s.entity}.{s.field}: {s.problem}")
            continue
        entries.append(Entry(s.column, s.mapping_value(), f"suggested {s.confidence:.2f}"))
    return entries


def _table_problems(result: SourceSuggestions, addition: TableAddition) -> list[str]:
    """What validating the table, with the addition merged in, on its own would say."""
    current = result.existing.tables.get(addition.table) if result.existing else None
    try:
        single = Mapping.model_validate({"tables": {addition.table: _merged(current, addition)}})
        return [
            e.message
            for e in check_mapping(result.path, None, single, result.spec, result.dictionary)
        ]
    except ValidationError as exc:
        return [f"{'.'.join(map(str, e['loc']))}: {e['msg']}" for e in exc.errors()]


def accepted(
    result: SourceSuggestions, min_confidence: float
) -> tuple[list[TableAddition], list[str]]:
    """What `--accept` adds, table by table, and a note for each suggestion it leaves out.

    A table whose additions would not validate on their own (a new table without its entity's
    key, say) is left out whole, with the reason: the file never gets an invalid table.
    """
    additions, notes = [], []
    for t in result.tables:
        if t.proposal is not None:
            continue  # no entity to map onto yet: `write_proposals` proposes one
        entries = _entries(t, min_confidence, notes)
        updated = (
            t.updated_at.column
            if t.updated_at and t.updated_at.confidence >= min_confidence
            else None
        )
        if not entries and (t.entity_is_new or not updated):
            continue
        addition = TableAddition(t.table, t.entity if t.entity_is_new else None, updated, entries)
        problems = _table_problems(result, addition)
        if problems:
            notes.append(f"left out table {t.table}: {problems[0]} — map it by hand")
            continue
        additions.append(addition)
    return additions, notes


def write_proposals(result: SourceSuggestions, sources_dir: Path) -> list[str]:
    """The new entities proposed for tables no entity fits, each written as a dictionary patch
    to review (an existing one is left as it is); a note for each."""
    notes = []
    for t in result.tables:
        if t.proposal is None:
            continue
        path, written = write_proposal(sources_dir, t.entity, t.proposal)
        what = "proposed" if written else "proposal kept as it is in"
        notes.append(
            f"no entity fits table {t.table}: {what} new entity {t.entity} in {path} — review "
            "it, move it into the dictionary, then suggest again"
        )
    return notes


def mapping_problems(
    path: Path, text: str, spec: SourceSpec, dictionary: Dictionary
) -> list[SpecError]:
    """What `load_mappings` would say about this text as the source's mapping file."""
    try:
        node = yaml.compose(text)
        data = yaml.safe_load(text)
        mapping = Mapping.model_validate(data)
    except yaml.YAMLError as exc:
        return [SpecError(path, None, f"not valid YAML: {exc}")]
    except ValidationError as exc:
        return [
            SpecError(path, None, f"{'.'.join(map(str, e['loc']))}: {e['msg']}")
            for e in exc.errors()
        ]
    return check_mapping(path, node, mapping, spec, dictionary)


def accept_text(result: SourceSuggestions, additions: list[TableAddition]) -> str:
    """The mapping file's new text: created, or the existing one with the additions merged in."""
    if result.path.exists():
        try:
            return with_additions(result.path.read_text(encoding="utf-8"), additions)
        except ValueError as exc:
            raise SuggestError(f"{result.path}: cannot merge suggestions: {exc}") from None
    header = [
        f"The {result.spec.name} source's fields onto the data dictionary, as proposed by",
        "`tributary map suggest` (each line's comment says how sure it was): review them,",
        "then run `tributary generate`.",
    ]
    return new_file(header, additions)


def write_mapping(result: SourceSuggestions, additions: list[TableAddition]) -> Path:
    """Validate the new text as `load_mappings` would, then replace the file atomically."""
    text = accept_text(result, additions)
    problems = mapping_problems(result.path, text, result.spec, result.dictionary)
    if problems:
        raise SuggestError(f"nothing written: the result would not validate: {problems[0]}")
    partial = result.path.with_name(f".{result.path.name}.partial")
    partial.write_text(text, encoding="utf-8")
    partial.replace(result.path)
    return result.path
