"""One raw table's suggestions: its entity (the mapping's, the one its name and columns say,
or a new one), one column per free field, a derived full name, its last-change column, and
what stays unmapped with its best (too weak) guess."""

from __future__ import annotations

from dataclasses import dataclass, replace

from tributary.contracts.dictionary import Dictionary
from tributary.contracts.mapping import TableMapping, raw_column
from tributary.standardize.suggest import derived
from tributary.standardize.suggest.entities import EntityChoice, choose_entity
from tributary.standardize.suggest.profiles import ColumnProfile
from tributary.standardize.suggest.proposals import proposed_entity
from tributary.standardize.suggest.scoring import (
    OpenColumns,
    Suggestion,
    assign,
    updated_at_column,
)


@dataclass(frozen=True)
class TableSuggestion:
    source: str
    table: str
    entity: str  # for a proposal: the new entity's name
    entity_is_new: bool  # the table has no mapping yet: `entity` is suggested too
    entity_why: str
    fields: list[Suggestion]  # at most one per canonical field, in the table's column order
    updated_at: Suggestion | None
    unmapped: list[tuple[str, Suggestion | None]]  # column, its best (too weak) guess
    mapped: list[str]  # columns the existing mapping already maps
    entity_confidence: float = 1.0
    proposal: dict | None = None  # no entity fits: the new entity's definition to review


def _mapped_already(existing: TableMapping | None, naming: str) -> tuple[set[str], set[str]]:
    """(raw columns, canonical fields) the existing mapping already uses."""
    mapped_columns: set[str] = set()
    taken_fields: set[str] = set()
    if existing is not None:
        mapped_columns |= {raw_column(f, naming) for f in existing.source_fields()}
        taken_fields |= {fmap.to for fmap in existing.field_maps().values()}
        for role in (existing.updated_at, existing.id):
            if role:
                mapped_columns.add(raw_column(role, naming))
    return mapped_columns, taken_fields


def _best_guesses(
    candidates: list[ColumnProfile], pairs: list[Suggestion], chosen: list[Suggestion]
) -> list[tuple[str, Suggestion | None]]:
    """Each column left unchosen, with its best (too weak) pair if it has one."""
    taken = {s.column for s in chosen}
    taken |= {c for s in chosen for c in s.options.get("join", [])}
    taken |= {s.options["currency_field"] for s in chosen if "currency_field" in s.options}
    best_guess: dict[str, Suggestion] = {}
    for pair in sorted(pairs, key=lambda p: -p.confidence):
        best_guess.setdefault(pair.column, pair)
    return [(p.name, best_guess.get(p.name)) for p in candidates if p.name not in taken]


def _entity(
    table: str,
    dictionary: Dictionary,
    open_: OpenColumns,
    existing: TableMapping | None,
    floor: float,
) -> EntityChoice:
    if existing is None:
        return choose_entity(table, dictionary, open_, floor)
    pairs = open_.pairs(dictionary, existing.entity)
    return EntityChoice(existing.entity, 1.0, "mapped already", pairs, assign(pairs, floor))


def _fields(
    choice: EntityChoice,
    dictionary: Dictionary,
    open_: OpenColumns,
    parts: tuple[ColumnProfile, ColumnProfile] | None,
    profiles: list[ColumnProfile],
) -> list[Suggestion]:
    """The chosen pairs, a derived full name where the entity has one free, currency columns
    filled in; none surer than the table's entity."""
    chosen = list(choice.chosen)
    if parts and choice.entity is not None:
        entity = dictionary.entities[choice.entity]
        taken = open_.taken_fields | {s.field for s in chosen}
        if (field := derived.full_name_field(entity, taken)) is not None:
            chosen.append(derived.full_name_suggestion(parts, choice.entity, field))
    chosen = derived.with_currency_field(chosen, profiles)
    cap = choice.confidence
    return [replace(s, confidence=min(s.confidence, cap)) for s in chosen]


def suggest_table(
    source: str,
    table: str,
    profiles: list[ColumnProfile],
    dictionary: Dictionary,
    existing: TableMapping | None = None,
    naming: str = "snake_case",
    floor: float = 0.2,
) -> TableSuggestion:
    """Suggestions for one raw table; the columns and fields ``existing`` maps are left alone."""
    mapped_columns, taken_fields = _mapped_already(existing, naming)
    open_profiles = [p for p in profiles if p.name not in mapped_columns]
    updated = None
    if existing is None or existing.updated_at is None:
        updated = updated_at_column(open_profiles)
    candidates = [p for p in open_profiles if updated is None or p.name != updated.column]
    if existing is not None and existing.entity not in dictionary.entities:
        why = f"its entity {existing.entity!r} is not in the dictionary: run `tributary validate`"
        unknown = [(p.name, None) for p in candidates]
        return TableSuggestion(source, table, existing.entity, False, why, [], None, unknown, [])
    parts = derived.name_parts(candidates)
    named_by = {p.name for p in parts} if parts else set()
    open_ = OpenColumns([p for p in candidates if p.name not in named_by], taken_fields)
    choice = _entity(table, dictionary, open_, existing, floor)
    proposal, entity_name = None, choice.entity
    if choice.entity is None and profiles:
        entity_name, proposal = proposed_entity(source, table, profiles)
    elif choice.entity is None:  # nothing but the platform's own columns
        entity_name = "(none)"
    chosen = _fields(choice, dictionary, open_, parts, profiles)
    order = {p.name: i for i, p in enumerate(profiles)}  # the table's own column order
    return TableSuggestion(
        source,
        table,
        entity_name,
        existing is None,
        choice.why,
        fields=[_with_table(s, table) for s in sorted(chosen, key=lambda s: order[s.column])],
        updated_at=_with_table(updated, table, entity_name) if updated and not proposal else None,
        unmapped=[]
        if proposal
        else [
            (c, _with_table(g, table) if g else None)
            for c, g in _best_guesses(candidates, choice.pairs, chosen)
        ],
        mapped=sorted(mapped_columns & {p.name for p in profiles}),
        entity_confidence=choice.confidence,
        proposal=proposal,
    )


def _with_table(s: Suggestion, table: str, entity: str | None = None) -> Suggestion:
    return replace(s, table=table, entity=entity or s.entity)
