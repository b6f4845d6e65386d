"""Hand-written quality rules (``sources/quality/rules.yaml``).

``rules``: conditions over an entity's canonical fields, each blocking (the record is
quarantined) or a warning (it is reported). ``mart_rules``: conditions over the rows of a mart
analysts read (its own columns: formats, amounts, conversions), checked before each publish;
a failure holds the publish. The rules the dictionary implies (required fields, ranges,
patterns, codes) are declared on its fields; ``quality/`` compiles all of them into pandera
schemas. No quality rule lives in code.
"""

import json
from collections.abc import Callable
from pathlib import Path
from typing import Annotated, Literal

import duckdb
from pydantic import AfterValidator, Field

from tributary.contracts.dictionary import SQL_TYPES, Dictionary, Entity
from tributary.contracts.resolved import quote
from tributary.contracts.specfile import (
    NAME_PATTERN,
    SpecError,
    SpecErrors,
    Strict,
    line_of,
    load_model,
)


def _one_condition(value: str) -> str:
    if ";" in value:
        raise ValueError("an expression is one SQL condition, without `;`")
    return value


Condition = Annotated[str, AfterValidator(_one_condition)]


class _Rule(Strict):
    """What every hand-written rule has: a name, one SQL condition and a reason in words."""

    name: str = Field(pattern=NAME_PATTERN, description="Names the rule in checks and quarantine.")
    expression: Condition = Field(
        description="A DuckDB SQL condition a valid record meets, e.g. `end_date >= start_date` "
        "(over an entity's canonical fields) or `abs(amount_base - amount_local * fx_rate) "
        "<= 0.01` (over a mart's columns). A record passes when it is true or null."
    )
    reason: str = Field(description="What is wrong with a record that fails, in plain words.")


class HandRule(_Rule):
    entity: str = Field(description="The dictionary entity whose records it checks.")
    severity: Literal["warn", "block"] = Field(
        "block", description="`block` quarantines the record; `warn` reports it."
    )


class MartRule(_Rule):
    """Always blocking: a mart that breaks one is not published."""

    mart: str = Field(description="The mart (an entity's `mart` in the dictionary) it checks.")


class RulesFile(Strict):
    rules: list[HandRule] = []
    mart_rules: list[MartRule] = Field(
        [], description="Blocking conditions on the marts, checked before every publish."
    )


def rules_path(sources_dir: Path) -> Path:
    return sources_dir / "quality" / "rules.yaml"


def load_hand_rules(sources_dir: Path, dictionary: Dictionary) -> RulesFile:
    """The hand-written rules, each naming an entity (or an entity's mart) the dictionary has."""
    path = rules_path(sources_dir)
    if not path.exists():
        return RulesFile()
    model, node = load_model(path, RulesFile)
    entities = dictionary.entities
    marts = sorted({e.mart for e in entities.values() if e.mart})
    errors = _rule_errors(
        (path, node, "rules"), model.rules, "entity", list(entities), "no entity in the dictionary",
        lambda rule: _expression_problem(rule, entities[rule.entity]),
        "write a SQL condition over the entity's canonical fields",
    )  # fmt: skip
    errors += _rule_errors(
        (path, node, "mart_rules"), model.mart_rules, "mart", marts,
        "no entity of the dictionary has the mart", lambda rule: _syntax_problem(rule.expression),
        "write one SQL condition over the mart's columns",
    )  # fmt: skip
    for section, rules in (("rules", model.rules), ("mart_rules", model.mart_rules)):
        names = [r.name for r in rules]
        errors += [
            SpecError(path, line_of(node, (section, i, "name")), f"rule {n!r} is declared twice")
            for i, n in enumerate(names)
            if n in names[:i]
        ]
    if errors:
        raise SpecErrors(errors)
    return model


def _rule_errors(
    where: tuple[Path, object, str],
    rules: list[HandRule] | list[MartRule],
    key: str,
    known: list[str],
    unknown: str,
    problem: Callable[[HandRule | MartRule], str | None],
    fix: str,
) -> list[SpecError]:
    """Each rule that names what the dictionary lacks (``key``), or whose condition DuckDB
    refuses, as a file:line error."""
    path, node, section = where
    errors = []
    for i, rule in enumerate(rules):
        target = getattr(rule, key)
        if target not in known:
            line = line_of(node, (section, i, key))
            message = f"rule {rule.name!r}: {unknown}: {target!r}"
            errors.append(SpecError(path, line, message, f"one of: {', '.join(known)}"))
        elif found := problem(rule):
            line = line_of(node, (section, i, "expression"))
            errors.append(SpecError(path, line, f"rule {rule.name!r}: {found}", fix))
    return errors


def _syntax_problem(expression: str) -> str | None:
    """DuckDB's parser's complaint about an expression, if any (columns are not known yet:
    a mart's columns come from dbt)."""
    with duckdb.connect() as con:
        parsed = con.execute("select json_serialize_sql(?)", [f"select ({expression})"])
        result = json.loads(parsed.fetchone()[0])
    return result.get("error_message") if result.get("error") else None


def _expression_problem(rule: HandRule, entity: Entity) -> str | None:
    """DuckDB's own complaint about the expression over an empty row of the entity, if any."""
    columns = ", ".join(
        f"cast(null as {SQL_TYPES[f.type]}) as {quote(name)}" for name, f in entity.fields.items()
    )
    try:
        with duckdb.connect() as con:
            con.execute(f"select ({rule.expression}) from (select {columns}) limit 0")
    except duckdb.Error as exc:
        return str(exc).splitlines()[0]
    return None
