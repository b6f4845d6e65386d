"""Which entity a new table is — or that none is.

The table's name weighs most: `tblEmployee`, `employees` and `staff` (a synonym) are the
employee entity whatever their columns look like, once common prefixes (`tbl`, `lkp`, `dim`…)
are taken off and plurals made singular. A table whose name names no entity must earn one
with its columns: a column for the entity's key and at least two other fields that fit well.
Otherwise no entity fits (a lookup of an id and a name is no department or product), and the
answer is a new entity with the table's columns as its fields, proposed as a dictionary patch
(``proposals``).
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from tributary.contracts.dictionary import Dictionary, Entity
from tributary.contracts.specfile import NAME_PATTERN
from tributary.standardize.suggest.names import ID_WORDS, normalize_name
from tributary.standardize.suggest.scoring import OpenColumns, Suggestion, assign

# Prefixes naming habits put before a table's name: Hungarian (`tbl`, `lkp`), warehouse layers.
TABLE_PREFIXES = {
    "tbl", "tb", "t", "tab", "lkp", "lk", "lu", "lookup", "ref", "dim", "fact", "fct", "stg",
    "raw", "src", "vw", "v", "mst", "master",
}  # fmt: skip
GENERIC_COLUMNS = {"id", "code", "no", "key", "name", "description", "label", "title", "value"}
NAME_WEIGHT = 3.0  # an exact table name counts as much as three columns that fit well
STRONG = 0.5  # a column "fits well" at this confidence
NAMED_CONFIDENCE = 0.95  # the table's name is the entity's name or synonym
WORDS_CONFIDENCE = 0.3  # the table's name shares a word with the entity's


def singular(word: str) -> str:
    if word.endswith(("us", "is", "ss")):  # status, analysis, address
        return word
    if word.endswith("ies") and len(word) > 4:
        return word[:-3] + "y"
    if word.endswith(("ses", "xes", "ches", "shes")):
        return word[:-2]
    return word[:-1] if word.endswith("s") else word


def table_words(table: str) -> tuple[str, ...]:
    """A table's name as singular words, its prefixes taken off: `tblInvoiceLines` →
    (invoice, line)."""
    words = list(normalize_name(table).tokens)
    while len(words) > 1 and words[0] in TABLE_PREFIXES:
        words.pop(0)
    return tuple(singular(w) for w in words)


def table_name_match(table: str, entity_name: str, entity: Entity) -> tuple[float, str]:
    """1 when the table's name is the entity's name or one of its synonyms; 0.3 when they
    share a word; 0 otherwise — with why."""
    words = table_words(table)
    for name in [entity_name, *entity.synonyms]:
        if words == table_words(name):
            how = "" if name == entity_name else f" (synonym {name})"
            return 1.0, f"table name {table} is {entity_name}{how}"
    names = {w for n in [entity_name, *entity.synonyms] for w in table_words(n)}
    if (set(words) & names) - ID_WORDS:
        return WORDS_CONFIDENCE, f"table name {table} shares a word with {entity_name}"
    return 0.0, ""


@dataclass(frozen=True)
class EntityChoice:
    """A new table's entity (`None`: no entity fits), how sure, why, and its column pairs."""

    entity: str | None
    confidence: float
    why: str
    pairs: list[Suggestion]
    chosen: list[Suggestion]


@dataclass(frozen=True)
class _Candidate:
    entity: str
    named: float
    named_why: str
    score: float
    pairs: list[Suggestion]
    chosen: list[Suggestion]


def _candidate(
    table: str, dictionary: Dictionary, name: str, open_: OpenColumns, floor: float
) -> _Candidate:
    pairs = open_.pairs(dictionary, name)
    chosen = assign(pairs, floor)
    named, named_why = table_name_match(table, name, dictionary.entities[name])
    fit = sum(s.confidence for s in chosen if s.confidence >= 0.4)
    return _Candidate(name, named, named_why, fit + NAME_WEIGHT * named, pairs, chosen)


def choose_entity(
    table: str, dictionary: Dictionary, open_: OpenColumns, floor: float
) -> EntityChoice:
    """The entity a new table is, by its name first and its columns second — or none."""
    scored = sorted(
        (_candidate(table, dictionary, n, open_, floor) for n in dictionary.entities),
        key=lambda c: -c.score,
    )
    best = scored[0]
    runner_up = scored[1].score if len(scored) > 1 else 0.0
    keys = dictionary.entities[best.entity].keys
    strong = [s for s in best.chosen if s.confidence >= STRONG]
    key_pairs = [s for s in strong if s.field in keys]
    has_key = len(key_pairs) == len(keys)
    # `id` or `name` alone says nothing of which entity: a lookup of both is no customer
    others = sum(1 for s in strong if s.field not in keys and not _generic(s.column))
    named_key = has_key and all(s.confidence >= 0.8 and not _generic(s.column) for s in key_pairs)
    columns = f"{len(strong)} of {len(open_.candidates)} columns fit its fields"
    if best.named == 1.0:
        return EntityChoice(
            best.entity, NAMED_CONFIDENCE, f"{best.named_why}; {columns}", best.pairs, best.chosen
        )
    if has_key and (others >= 2 or named_key):
        margin = best.score - runner_up
        # a key column named for the entity says it best; else the more fields, the surer
        confidence = 0.9 if named_key else round(min(0.85, 0.5 + 0.1 * others + 0.1 * margin), 2)
        why = f"{columns}, its key among them; score {best.score:.2f} (next best {runner_up:.2f})"
        return EntityChoice(best.entity, confidence, why, best.pairs, best.chosen)
    why = (
        f"no entity fits: the best, {best.entity}, has "
        + ("no column for its key" if not has_key else f"only {others} other field(s) that fit")
        + " and the table's name is none of its names"
    )
    return EntityChoice(None, 0.9, why, best.pairs, [])


def _generic(column: str) -> bool:
    return normalize_name(column).text in GENERIC_COLUMNS


def new_entity_name(table: str) -> str:
    """The name a proposed entity gets from its table: `lkpPaymentMethods` → payment_method."""
    name = "_".join(table_words(table))
    return name if re.match(NAME_PATTERN, name) else "new_entity"
