"""Suggestions no single column makes on its own: a full name from a first and a last name
(written as `join` in the mapping), and a money field's currency from the column beside it
that holds currency codes (written as `currency_field`)."""

from __future__ import annotations

import re
from dataclasses import replace

from tributary.contracts.dictionary import Entity
from tributary.standardize.suggest.names import normalize_name
from tributary.standardize.suggest.profiles import ColumnProfile
from tributary.standardize.suggest.scoring import Suggestion

FIRST_WORDS = ({"first", "name"}, {"given", "name"}, {"fore", "name"}, {"firstname"}, {"first"})
LAST_WORDS = (
    {"last", "name"}, {"family", "name"}, {"sur", "name"}, {"surname"}, {"lastname"}, {"last"},
)  # fmt: skip
FULL_NAME_WORDS = ({"full", "name"}, {"name"}, {"display", "name"}, {"person", "name"})
FULL_NAME_CONFIDENCE = 0.9
_CURRENCY_CODE = re.compile(r"^[A-Z]{3}$")


def _said(profile: ColumnProfile, words: tuple[set[str], ...]) -> bool:
    tokens = set(normalize_name(profile.name).tokens) - {"employee", "customer", "contact"}
    return any(tokens == w for w in words)


def name_parts(profiles: list[ColumnProfile]) -> tuple[ColumnProfile, ColumnProfile] | None:
    """The (first name, last name) text columns of a table, if it has exactly one of each."""
    text = [p for p in profiles if p.kind == "text"]
    first = [p for p in text if _said(p, FIRST_WORDS)]
    last = [p for p in text if _said(p, LAST_WORDS)]
    return (first[0], last[0]) if len(first) == 1 and len(last) == 1 else None


def full_name_field(entity: Entity, taken: set[str]) -> str | None:
    """The entity's free string field for a person's whole name (`full_name`), if it has one."""
    for name, field in entity.fields.items():
        if field.type == "string" and name not in taken:
            if set(normalize_name(name).tokens) in FULL_NAME_WORDS:
                return name
    return None


def full_name_suggestion(
    parts: tuple[ColumnProfile, ColumnProfile], entity_name: str, field_name: str
) -> Suggestion:
    first, last = parts
    why = f"{first.name} + {last.name} make a whole name"
    return Suggestion(
        table="",
        column=first.name,
        entity=entity_name,
        field=field_name,
        confidence=FULL_NAME_CONFIDENCE,
        reasons=(why, "joined with a space"),
        options={"join": [last.name]},
    )


def currency_column(profiles: list[ColumnProfile]) -> ColumnProfile | None:
    """The one column named for a currency whose values are ISO codes (USD, EUR…)."""
    found = [
        p
        for p in profiles
        if "currency" in normalize_name(p.name).tokens
        and p.kind == "text"
        and p.sample
        and all(_CURRENCY_CODE.match(v.strip()) for v in p.sample)
    ]
    return found[0] if len(found) == 1 else None


def with_currency_field(
    chosen: list[Suggestion], profiles: list[ColumnProfile]
) -> list[Suggestion]:
    """Money suggestions without a currency take it from the table's currency column."""
    column = currency_column(profiles)
    if column is None:
        return chosen
    return [
        replace(
            s,
            options={**s.options, "currency_field": column.name},
            problem="",
            reasons=(*s.reasons, f"currency from {column.name}"),
        )
        if s.problem.startswith("no currency")
        else s
        for s in chosen
    ]
