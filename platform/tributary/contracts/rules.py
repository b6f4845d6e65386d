"""Hand-written quality rules (``sources/quality/rules.yaml``): conditions over an entity's
canonical fields, each blocking (the record is quarantined) or a warning (it is reported).

The rules the dictionary implies (required fields, ranges, patterns, codes) are declared on
its fields; ``quality/`` compiles both kinds into one pandera schema per entity.
"""

from pathlib import Path
from typing import Literal

import duckdb
from pydantic import Field, field_validator

from tributary.contracts.dictionary import SQL_TYPES, Dictionary, Entity
from tributary.contracts.specfile import (
    NAME_PATTERN,
    SpecError,
    SpecErrors,
    Strict,
    line_of,
    load_model,
)


class HandRule(Strict):
    name: str = Field(pattern=NAME_PATTERN, description="Names the rule in checks and quarantine.")
    entity: str = Field(description="The dictionary entity whose records it checks.")
    expression: str = Field(
        description="A DuckDB SQL condition over the entity's canonical fields that a valid "
        "record meets, e.g. `end_date >= start_date`. A record passes when it is true or null."
    )
    severity: Literal["warn", "block"] = Field(
        "block", description="`block` quarantines the record; `warn` reports it."
    )
    reason: str = Field(description="What is wrong with a record that fails, in plain words.")

    @field_validator("expression")
    @classmethod
    def _one_expression(cls, value: str) -> str:
        if ";" in value:
            raise ValueError("an expression is one SQL condition, without `;`")
        return value


class RulesFile(Strict):
    rules: list[HandRule] = []


def rules_path(sources_dir: Path) -> Path:
    return sources_dir / "quality" / "rules.yaml"


def load_hand_rules(sources_dir: Path, dictionary: Dictionary) -> list[HandRule]:
    """The hand-written rules, each naming an entity the dictionary has."""
    path = rules_path(sources_dir)
    if not path.exists():
        return []
    model, node = load_model(path, RulesFile)
    errors = [
        SpecError(
            path,
            line_of(node, ("rules", i, "entity")),
            f"rule {rule.name!r}: no entity {rule.entity!r} in the dictionary",
            f"one of: {', '.join(dictionary.entities)}",
        )
        for i, rule in enumerate(model.rules)
        if rule.entity not in dictionary.entities
    ]
    errors += [
        SpecError(path, line_of(node, ("rules", i, "expression")), f"rule {rule.name!r}: {problem}",
                  "write a SQL condition over the entity's canonical fields")
        for i, rule in enumerate(model.rules)
        if rule.entity in dictionary.entities
        and (problem := _expression_problem(rule, dictionary.entities[rule.entity]))
    ]  # fmt: skip
    names = [r.name for r in model.rules]
    errors += [
        SpecError(path, line_of(node, ("rules", i, "name")), f"rule {n!r} is declared twice")
        for i, n in enumerate(names)
        if n in names[:i]
    ]
    if errors:
        raise SpecErrors(errors)
    return list(model.rules)


def _expression_problem(rule: HandRule, entity: Entity) -> str | None:
    """DuckDB's own complaint about the expression over an empty row of the entity, if any."""
    columns = ", ".join(
        f"cast(null as {SQL_TYPES[f.type]}) as {name}" for name, f in entity.fields.items()
    )
    try:
        with duckdb.connect() as con:
            con.execute(f"select ({rule.expression}) from (select {columns}) limit 0")
    except duckdb.Error as exc:
        return str(exc).splitlines()[0]
    return None
