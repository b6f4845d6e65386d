"""Quality rules: derived from the data dictionary (required fields, values no conversion
could read, ranges, patterns, codes) plus the hand-written ones in
``sources/quality/rules.yaml``, compiled into one pandera schema per entity (and one per mart
for the declared mart rules).

Each rule has a severity: ``block`` rows are quarantined (they never reach the conformed
models and marts), ``warn`` rows are reported and flow on.
"""

import re
from collections.abc import Callable
from dataclasses import dataclass

import pandas as pd
import pandera.pandas as pa

from tributary.contracts.dictionary import CanonicalField, Entity
from tributary.contracts.rules import HandRule, MartRule

RULE_COLUMN = "rule:"  # prefix of the columns that hold a hand-written rule's result


@dataclass(frozen=True)
class Rule:
    name: str
    field: str | None
    severity: str
    reason: str  # what a failure means; `{value}` stands for the offending value
    personal: bool = False  # the value is personal data: never written into a reason


def _bound(field: CanonicalField, value: float | str) -> float | pd.Timestamp:
    return pd.Timestamp(value) if field.type in ("date", "timestamp") else float(value)


def field_rules(
    entity_name: str, entity: Entity, columns: set[str]
) -> list[tuple[Rule, pa.Check | None]]:
    """(rule, pandera check) for each dictionary rule on the fields present in `columns`;
    the check is None for `required`, which pandera expresses as a non-nullable column."""
    out: list[tuple[Rule, pa.Check | None]] = []
    for name, field in entity.fields.items():
        if name not in columns:
            continue
        severity = field.rule_severity(is_key=name in entity.keys)
        prefix = f"{entity_name}.{name}"

        def rule(kind: str, reason: str) -> Rule:
            personal = field.personal_data is not None  # noqa: B023
            return Rule(f"{prefix}.{kind}", name, severity, reason, personal)  # noqa: B023

        if field.required or name in entity.keys:
            out.append((rule("required", f"{name} is required but empty"), None))
        out.append(
            (
                rule("readable", f"{name}: no conversion could read {{value}}"),
                pa.Check(
                    lambda s, f=name: s.map(lambda found: f not in _unreadable_fields(found)),
                    name=f"{prefix}.readable",
                ),
            )
        )
        out += _value_checks(rule, name, field, prefix)
    return out


def _value_checks(
    rule: Callable[[str, str], Rule], name: str, field: CanonicalField, prefix: str
) -> list[tuple[Rule, pa.Check]]:
    """The min, max, pattern and codes rules of one field, as pandera checks."""
    out: list[tuple[Rule, pa.Check]] = []
    if field.min is not None:
        low = _bound(field, field.min)
        out.append(
            (
                rule("min", f"{name} {{value}} is below the minimum {field.min}"),
                pa.Check(lambda s, b=low: s >= b, name=f"{prefix}.min"),
            )
        )
    if field.max is not None:
        high = _bound(field, field.max)
        out.append(
            (
                rule("max", f"{name} {{value}} is above the maximum {field.max}"),
                pa.Check(lambda s, b=high: s <= b, name=f"{prefix}.max"),
            )
        )
    if field.pattern:
        out.append(
            (
                rule("pattern", f"{name} {{value}} does not look like {field.pattern}"),
                pa.Check(
                    lambda s, p=field.pattern: s.astype(str).str.fullmatch(p),
                    name=f"{prefix}.pattern",
                ),
            )
        )
    if field.type == "code":
        codes = field.canonical_codes()
        out.append(
            (
                rule("codes", f"{name} {{value}} is not one of {', '.join(codes)}"),
                pa.Check(lambda s, c=tuple(codes): s.isin(c), name=f"{prefix}.codes"),
            )
        )
    return out


def _passes(value: object) -> bool:
    """A hand-written rule passes when its condition is true or unknown (null)."""
    return value is None or bool(pd.isna(value)) or bool(value)


def _unreadable_fields(found: object) -> set[str]:
    if found is None or (isinstance(found, float) and pd.isna(found)):
        return set()
    return {item["field"] for item in found}


@dataclass(frozen=True)
class EntitySchema:
    """One entity's rules as a pandera schema, and what each check name means."""

    schema: pa.DataFrameSchema
    rules: dict[str, Rule]  # by pandera check name, and `<field>:not_nullable`

    def rule_for(self, column: str, check: str) -> Rule | None:
        if check == "not_nullable":
            return self.rules.get(f"{column}:not_nullable")
        return self.rules.get(re.sub(r"\(.*\)$", "", check))


def entity_schema(
    entity_name: str, entity: Entity, columns: set[str], hand: list[HandRule]
) -> EntitySchema:
    """The pandera schema of an entity's rows (staging or conformed) with these columns."""
    by_field: dict[str, list[pa.Check]] = {}
    rules: dict[str, Rule] = {}
    required: set[str] = set()
    unreadable_checks: list[pa.Check] = []
    for rule, check in field_rules(entity_name, entity, columns):
        if check is None:
            required.add(rule.field or "")
            rules[f"{rule.field}:not_nullable"] = rule
            continue
        rules[check.name] = rule
        if rule.name.endswith(".readable"):
            unreadable_checks.append(check)
        else:
            by_field.setdefault(rule.field or "", []).append(check)
    schema_columns = {
        name: pa.Column(None, checks=by_field.get(name, []), nullable=name not in required)
        for name in entity.fields
        if name in columns
    }
    if "_unreadable" in columns:
        schema_columns["_unreadable"] = pa.Column(None, checks=unreadable_checks, nullable=True)
    for rule in hand:
        if rule.entity != entity_name:
            continue
        check_name = f"{entity_name}.{rule.name}"
        rules[check_name] = Rule(check_name, None, rule.severity, rule.reason)
        schema_columns[f"{RULE_COLUMN}{rule.name}"] = _rule_column(check_name)
    return EntitySchema(
        pa.DataFrameSchema(schema_columns, strict=False, coerce=False, name=entity_name), rules
    )


def hand_rule_columns(entity_name: str, hand: list[HandRule]) -> str:
    """Extra select-list items computing each hand-written rule of the entity (may be empty)."""
    return rule_columns([rule for rule in hand if rule.entity == entity_name])


def rule_columns(rules: list[HandRule] | list[MartRule]) -> str:
    """Extra select-list items computing each rule's condition into its own column."""
    return "".join(f', ({rule.expression}) as "{RULE_COLUMN}{rule.name}"' for rule in rules)


def _rule_column(check_name: str) -> pa.Column:
    return pa.Column(
        None, checks=[pa.Check(lambda s: s.map(_passes), name=check_name)], nullable=True
    )


def mart_schema(mart: str, rules: list[MartRule]) -> EntitySchema:
    """The pandera schema of a mart's declared rules (rows carry each rule's result column);
    every one blocks: a mart that breaks one is not published."""
    by_name = {f"{mart}.{r.name}": Rule(f"{mart}.{r.name}", None, "block", r.reason) for r in rules}
    columns = {f"{RULE_COLUMN}{r.name}": _rule_column(f"{mart}.{r.name}") for r in rules}
    return EntitySchema(pa.DataFrameSchema(columns, strict=False, coerce=False, name=mart), by_name)


def failures(frame: pd.DataFrame, schema: EntitySchema) -> pd.DataFrame:
    """One row per (row index, rule) that fails: index, rule, severity, reason."""
    columns = ["index", "rule", "severity", "reason"]
    try:
        schema.schema.validate(frame, lazy=True)
    except pa.errors.SchemaErrors as exc:
        cases = exc.failure_cases
        cases = cases[cases["index"].notna()]
        out = []
        for case in cases.itertuples(index=False):
            rule = schema.rule_for(str(case.column), str(case.check))
            if rule is None:  # a failure pandera reports that is not one of our rules
                raise
            value = _describe(case.failure_case, rule)
            out.append(
                (int(case.index), rule.name, rule.severity, rule.reason.replace("{value}", value))
            )
        found = pd.DataFrame(out, columns=columns).drop_duplicates(["index", "rule"])
        # a value sent but unreadable is one problem, not also "required but empty"
        pairs = list(zip(found["index"], found["rule"], strict=True))
        unreadable = {(i, r.removesuffix(".readable")) for i, r in pairs if r.endswith(".readable")}
        also_empty = [(i, r.removesuffix(".required")) in unreadable for i, r in pairs]
        return found[[not x for x in also_empty]].reset_index(drop=True)
    return pd.DataFrame([], columns=columns)


def _describe(value: object, rule: Rule) -> str:
    if rule.personal:  # reasons reach the UI and the quarantine log
        return "a value (withheld: personal data)"
    if rule.name.endswith(".readable"):
        sent = [item["value"] for item in value if item["field"] == rule.field]  # type: ignore[union-attr]
        return repr(sent[0]) if sent else "the value sent"
    return repr(value)
