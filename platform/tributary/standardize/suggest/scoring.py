"""Scoring and ranking: a confidence for each (column, canonical field) pair from its name and
value evidence, the table's entity, and one column per field, greedily by confidence."""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from typing import Any

from tributary.contracts.dictionary import Dictionary, Entity
from tributary.contracts.mapping import TableMapping, raw_column
from tributary.standardize.suggest.names import name_evidence, normalize_name
from tributary.standardize.suggest.profiles import ColumnProfile, percent
from tributary.standardize.suggest.values import conversion_options, specificity, value_fit


@dataclass(frozen=True)
class Suggestion:
    """One raw column proposed for one canonical field (or for the table's `updated_at`)."""

    table: str
    column: str
    entity: str
    field: str  # the canonical field, or "updated_at" for the table's last-change column
    confidence: float
    reasons: tuple[str, ...]
    options: dict[str, Any] = field(default_factory=dict)  # conversion options (FieldMap)
    problem: str = ""  # why it cannot be written as it is (a money field without currency)

    @property
    def why(self) -> str:
        return "; ".join(r for r in self.reasons if r)

    def mapping_value(self) -> str | dict[str, Any]:
        return {"to": self.field, **self.options} if self.options else self.field


def score_pair(
    profile: ColumnProfile, entity_name: str, entity: Entity, field_name: str
) -> Suggestion:
    """The confidence that a column feeds a field, from its name and its values."""
    canonical = entity.fields[field_name]
    name, name_why = name_evidence(profile.name, entity_name, field_name, canonical)
    fit, fit_why = value_fit(profile, canonical, is_key=field_name in entity.keys)
    if canonical.required and profile.null_share > 0.5:
        fit, fit_why = fit * 0.7, f"{fit_why}; {percent(profile.null_share)} empty, field required"
    from_name = name * (0.4 + 0.6 * fit)
    from_values = fit * specificity(entity, field_name, profile)
    confidence = min(0.99, 1 - (1 - from_name) * (1 - from_values))
    options, problem, option_why = conversion_options(profile, canonical)
    return Suggestion(
        table="",
        column=profile.name,
        entity=entity_name,
        field=field_name,
        confidence=round(confidence, 2),
        reasons=(name_why, fit_why, option_why),
        options=options,
        problem=problem,
    )


UPDATED_WORDS = {"updated", "update", "modified", "modify", "changed", "change", "mtime"}
UPDATED_CJK = ("更新", "修改", "变更")


def updated_at_column(profiles: list[ColumnProfile]) -> Suggestion | None:
    """The column that says when a record last changed (``updated_at``, ``modified_at``,
    ``修改时间``), if one holds timestamps: newer duplicates win by it."""
    best = None
    for p in profiles:
        name = normalize_name(p.name)
        said = set(name.tokens) & UPDATED_WORDS or any(w in name.text for w in UPDATED_CJK)
        stamps = p.kind == "timestamp" or (p.kind == "text" and p.share("timestamp") >= 0.9)
        if said and stamps:
            confidence = 0.9 if {"updated", "modified"} & set(name.tokens) else 0.75
            if best is None or confidence > best.confidence:
                why = (f"name {p.name} says last change", f"{p.db_type} values")
                best = Suggestion("", p.name, "", "updated_at", confidence, why)
    return best


@dataclass(frozen=True)
class TableSuggestion:
    source: str
    table: str
    entity: str
    entity_is_new: bool  # the table has no mapping yet: `entity` is suggested too
    entity_why: str
    fields: list[Suggestion]  # at most one per canonical field, in the table's column order
    updated_at: Suggestion | None
    unmapped: list[tuple[str, Suggestion | None]]  # column, its best (too weak) guess
    mapped: list[str]  # columns the existing mapping already maps


def assign(pairs: list[Suggestion], floor: float = 0.0) -> list[Suggestion]:
    """One column per field and one field per column, greedily by confidence."""
    taken_columns: set[str] = set()
    taken_fields: set[str] = set()
    chosen = []
    for pair in sorted(pairs, key=lambda p: -p.confidence):
        if pair.confidence < floor or pair.column in taken_columns or pair.field in taken_fields:
            continue
        chosen.append(pair)
        taken_columns.add(pair.column)
        taken_fields.add(pair.field)
    return chosen


def _singular(word: str) -> str:
    if word.endswith("ies") and len(word) > 4:
        return word[:-3] + "y"
    if word.endswith(("ses", "xes", "ches", "shes")):
        return word[:-2]
    return word[:-1] if word.endswith("s") and not word.endswith("ss") else word


def _entity_score(entity_name: str, table: str, chosen: list[Suggestion]) -> float:
    """How well a table is this entity: the confidence its columns map with, and its name."""
    score = sum(s.confidence for s in chosen if s.confidence >= 0.4)
    table_words = tuple(_singular(w) for w in normalize_name(table).tokens)
    entity_words = normalize_name(entity_name).tokens
    if table_words == entity_words:
        score += 0.5
    elif set(table_words) & set(entity_words):
        score += 0.2
    return score


@dataclass(frozen=True)
class _Open:
    """What of a table is still open: the columns no mapping or role takes, the fields free."""

    candidates: list[ColumnProfile]
    taken_fields: set[str]

    def pairs(self, dictionary: Dictionary, entity_name: str) -> list[Suggestion]:
        entity = dictionary.entities[entity_name]
        return [
            score_pair(p, entity_name, entity, f)
            for p in self.candidates
            for f in entity.fields
            if f not in self.taken_fields
        ]


def _mapped_already(existing: TableMapping | None, naming: str) -> tuple[set[str], set[str]]:
    """(raw columns, canonical fields) the existing mapping already uses."""
    mapped_columns: set[str] = set()
    taken_fields: set[str] = set()
    if existing is not None:
        for source_field, fmap in existing.field_maps().items():
            mapped_columns.add(raw_column(source_field, naming))
            taken_fields.add(fmap.to)
        for role in (existing.updated_at, existing.id):
            if role:
                mapped_columns.add(raw_column(role, naming))
    return mapped_columns, taken_fields


def _best_entity(
    table: str, dictionary: Dictionary, open_: _Open, floor: float
) -> tuple[str, str, list[Suggestion], list[Suggestion]]:
    """The entity a new table's columns fit best: (entity, why, its pairs, the chosen ones)."""
    scored = []
    for name in dictionary.entities:
        pairs = open_.pairs(dictionary, name)
        chosen = assign(pairs, floor)
        scored.append((_entity_score(name, table, chosen), name, pairs, chosen))
    score, entity_name, pairs, chosen = max(scored, key=lambda s: s[0])
    fitting = sum(1 for s in chosen if s.confidence >= 0.5)
    runner_up = sorted((s[0] for s in scored), reverse=True)[1:2] or [0.0]
    entity_why = (
        f"{fitting} of {len(open_.candidates)} columns fit its fields; "
        f"score {score:.2f} (next best {runner_up[0]:.2f})"
        if fitting
        else "no column fits any entity well: add the entity to the dictionary first"
    )
    return entity_name, entity_why, pairs, chosen


def _best_guesses(
    candidates: list[ColumnProfile], pairs: list[Suggestion], chosen: list[Suggestion]
) -> list[tuple[str, Suggestion | None]]:
    """Each column left unchosen, with its best (too weak) pair if it has one."""
    chosen_columns = {s.column for s in chosen}
    best_guess: dict[str, Suggestion] = {}
    for pair in sorted(pairs, key=lambda p: -p.confidence):
        best_guess.setdefault(pair.column, pair)
    return [(p.name, best_guess.get(p.name)) for p in candidates if p.name not in chosen_columns]


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
    open_ = _Open(candidates, taken_fields)
    if existing is not None and existing.entity not in dictionary.entities:
        why = f"its entity {existing.entity!r} is not in the dictionary: run `tributary validate`"
        unknown = [(p.name, None) for p in candidates]
        return TableSuggestion(source, table, existing.entity, False, why, [], None, unknown, [])
    if existing is not None:
        entity_name, entity_why, is_new = existing.entity, "mapped already", False
        pairs = open_.pairs(dictionary, entity_name)
        chosen = assign(pairs, floor)
    else:
        entity_name, entity_why, pairs, chosen = _best_entity(table, dictionary, open_, floor)
        is_new = True
    order = {p.name: i for i, p in enumerate(profiles)}  # the table's own column order
    return TableSuggestion(
        source,
        table,
        entity_name,
        is_new,
        entity_why,
        fields=[_with_table(s, table) for s in sorted(chosen, key=lambda s: order[s.column])],
        updated_at=_with_table(updated, table, entity_name) if updated else None,
        unmapped=[
            (c, _with_table(g, table) if g else None)
            for c, g in _best_guesses(candidates, pairs, chosen)
        ],
        mapped=sorted(mapped_columns & {p.name for p in profiles}),
    )


def _with_table(s: Suggestion, table: str, entity: str | None = None) -> Suggestion:
    return replace(s, table=table, entity=entity or s.entity)
