"""Blocking checks on the marts analysts read, run before every publish: the dictionary's rules
of the mart's entity (``dictionary_rules``), and the mart rules declared in
``sources/quality/rules.yaml`` (``pandera_<mart>``: formats, amounts, conversions). Quarantine
keeps bad rows out upstream; a failure here means something slipped through, and the analyst
snapshot stays as it was.
"""

import dagster as dg

from tributary.contracts.dictionary import Dictionary
from tributary.contracts.resolved import load_mappings_for, mapped_tables
from tributary.contracts.rules import MartRule, load_hand_rules
from tributary.identifiers import ident
from tributary.quality.quarantine import rules_result
from tributary.quality.rules import entity_schema, failures, mart_schema, rule_columns
from tributary.settings import Settings
from tributary.warehouse import Warehouse


def build_mart_checks(settings: Settings) -> list[dg.AssetChecksDefinition]:
    dictionary, mappings = load_mappings_for(settings)
    declared = load_hand_rules(settings.sources_dir, dictionary).mart_rules
    entities = sorted({t.entity_name for t in mapped_tables(mappings, dictionary)})
    marts = {name: dictionary.entities[name].mart for name in entities}
    checks = [_dictionary_check(name, mart, dictionary) for name, mart in marts.items() if mart]
    for name, mart in marts.items():
        own = [rule for rule in declared if rule.mart == mart]
        if own:
            checks.append(_declared_check(mart, dictionary.entities[name].keys[0], own))
    return checks


def _dictionary_check(
    entity_name: str, mart: str, dictionary: Dictionary
) -> dg.AssetChecksDefinition:
    entity = dictionary.entities[entity_name]

    @dg.asset_check(
        asset=dg.AssetKey(["marts", mart]),
        name="dictionary_rules",
        blocking=True,
        description=f"The dictionary's {entity_name} rules (required, ranges, patterns, codes) "
        "on the mart analysts read (pandera). Quarantine keeps bad rows out upstream: a "
        "failure here means something slipped through, and blocks the publish.",
    )
    def mart_dictionary_rules(warehouse: Warehouse) -> dg.AssetCheckResult:
        with warehouse.connect(read_only=True) as con:
            frame = con.execute(f"select * from marts.{ident(mart)}").df()
        schema = entity_schema(entity_name, entity, set(frame.columns), [])
        result = rules_result(
            frame.assign(_source_id=frame[entity.keys[0]]), failures(frame, schema)
        )
        duplicates = int(frame.duplicated(entity.keys).sum())
        if duplicates:
            return dg.AssetCheckResult(
                passed=False,
                metadata={**result.metadata, "duplicate_keys": duplicates},
            )
        return result

    return mart_dictionary_rules


def _declared_check(mart: str, key: str, rules: list[MartRule]) -> dg.AssetChecksDefinition:
    schema = mart_schema(mart, rules)

    @dg.asset_check(
        asset=dg.AssetKey(["marts", mart]),
        name=f"pandera_{mart}",
        blocking=True,
        description="The mart rules of sources/quality/rules.yaml on every row (pandera): "
        + "; ".join(rule.reason for rule in rules),
    )
    def declared_mart_rules(warehouse: Warehouse) -> dg.AssetCheckResult:
        with warehouse.connect(read_only=True) as con:
            frame = con.execute(f"select *{rule_columns(rules)} from marts.{ident(mart)}").df()
        return rules_result(frame.assign(_source_id=frame[key]), failures(frame, schema))

    return declared_mart_rules
