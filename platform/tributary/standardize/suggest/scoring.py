"""Scoring and ranking: a confidence for each (column, canonical field) pair from its name and
value evidence, and one column per field, greedily by confidence."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from tributary.contracts.dictionary import Dictionary, Entity
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
    profile: ColumnProfile,
    entity_name: str,
    entity: Entity,
    field_name: str,
    renames: Sequence[tuple[str, str]] = (),
) -> Suggestion:
    """The confidence that a column feeds a field, from its name and its values; ``renames``
    are the dictionary's (entity synonym, entity) pairs (`client` is `customer`)."""
    canonical = entity.fields[field_name]
    name, name_why = name_evidence(profile.name, entity_name, field_name, canonical, renames)
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


@dataclass(frozen=True)
class OpenColumns:
    """What of a table is still open: the columns no mapping or role takes, the fields free."""

    candidates: list[ColumnProfile]
    taken_fields: set[str]

    def pairs(self, dictionary: Dictionary, entity_name: str) -> list[Suggestion]:
        entity = dictionary.entities[entity_name]
        renames = [(s, n) for n, e in dictionary.entities.items() for s in e.synonyms]
        return [
            score_pair(p, entity_name, entity, f, renames)
            for p in self.candidates
            for f in entity.fields
            if f not in self.taken_fields
        ]
