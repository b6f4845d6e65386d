"""The YAML docs and tests of the conformed models, the crosswalk mart, the xref seeds and the
quarantine sources, and the dictionary page (``docs/dictionary.md``) analysts read."""

from tributary.contracts.dictionary import SQL_TYPES, CanonicalField, Dictionary, Entity
from tributary.contracts.mapping import SourceMapping
from tributary.contracts.resolved import MappedTable, conformed_columns, mapped_tables, xref_seed
from tributary.standardize.dbt_codegen.staging import field_doc, lineage_doc
from tributary.standardize.dbt_codegen.text import HEADER

# --- the conformed models -----------------------------------------------------------------


def _field_tests(entity: Entity, column: str, field: CanonicalField) -> list:
    tests: list = []
    if len(entity.keys) == 1 and column == entity.keys[0]:
        tests += ["unique", "not_null"]
    elif field.required:
        tests.append("not_null")
    if field.type == "code":
        tests.append({"accepted_values": {"arguments": {"values": field.canonical_codes()}}})
    return tests


def _conformed_field_docs(entity: Entity, column: str) -> list[dict]:
    """A conformed field's doc and tests, and its base-currency column if it has one."""
    field = entity.fields[column]
    doc: dict = {"name": column, **field_doc(field)}
    tests = _field_tests(entity, column, field)
    if tests:
        doc["data_tests"] = tests
    if not (field.type == "money" and field.as_of):
        return [doc]
    base = {
        "name": f"{column}_base",
        "description": f"{column} in the base currency, at the FX rate valid on {field.as_of}.",
        "data_type": "decimal(18,2)",
    }
    return [doc, base]


def _conformed_column_docs(entity: Entity, tables: list[MappedTable]) -> list[dict]:
    columns = []
    for column in conformed_columns(entity, tables):
        if column.endswith("_currency") and column not in entity.fields:
            base = column.removesuffix("_currency")
            columns.append(
                {"name": column, "description": f"Currency of {base}.", "data_type": "varchar"}
            )
        else:
            columns += _conformed_field_docs(entity, column)
    columns += [
        {"name": "_sources", "description": "Systems that know this record.",
         "data_type": "varchar[]"},
        {"name": "_merged_from", "description": "The source table of each delivered "
         "record merged into this one (source.table), one entry per record.",
         "data_type": "varchar[]"},
        lineage_doc("_updated_at"),
    ]  # fmt: skip
    return columns


def _conformed_model_doc(name: str, entity: Entity, tables: list[MappedTable]) -> dict:
    keys = entity.keys
    model: dict = {
        "name": f"int_{name}__conformed",
        "description": f"{entity.description} One row per {', '.join(keys)}, conformed "
        f"from {', '.join(sorted({t.source.name for t in tables}))}.",
        "columns": _conformed_column_docs(entity, tables),
    }
    if len(keys) > 1:
        model["data_tests"] = [{"unique_combination_of_columns": {"arguments": {"columns": keys}}}]
    return model


def _crosswalk_model_doc(name: str, entity: Entity) -> dict:
    key = entity.keys[0]
    return {
        "name": f"int_{name}__crosswalk",
        "description": f"Every system's id for a {name} → the canonical {key}.",
        "columns": [
            {"name": "source", "description": "Source system.", "data_type": "varchar"},
            {"name": "source_table", "description": "Its table.", "data_type": "varchar"},
            {"name": "source_id", "description": "The record's id there.",
             "data_type": "varchar", "data_tests": ["not_null"]},
            {"name": key, "description": f"The canonical {key}; null when "
             "no match rule found one.",
             "data_type": SQL_TYPES[entity.fields[key].type],
             "data_tests": [{"not_null": {"config": {"severity": "warn"}}}]},
            {"name": "matched_by", "description": "The match rule that found it.",
             "data_type": "varchar"},
        ],
    }  # fmt: skip


def conformed_yaml(entities: dict[str, tuple[Entity, list[MappedTable]]]) -> dict:
    models = []
    for name, (entity, tables) in entities.items():
        models.append(_conformed_model_doc(name, entity, tables))
        if len(entity.keys) == 1:
            models.append(_crosswalk_model_doc(name, entity))
    return {"version": 2, "models": models}


# --- what the conformed models read, and the crosswalk mart -------------------------------


def quality_sources_yaml(entity_names: list[str]) -> dict:
    """The quarantine tables (written by the quality layer) the conformed models read."""
    tables = [
        {"name": f"quarantine_{name}", "description": f"Rows of {name} that break a blocking rule."}
        for name in entity_names
    ]
    source = {
        "name": "quality",
        "description": "Rows held back by blocking rules, one table per entity.",
        "schema": "quality",
        "tables": tables,
    }
    return {"version": 2, "sources": [source]}


def xref_seeds_yaml(entity_names: list[str], dictionary: Dictionary) -> dict:
    return {
        "version": 2,
        "seeds": [
            {
                "name": xref_seed(name),
                "description": f"Cross-references a data steward keeps for {name}: the "
                f"canonical {dictionary.entities[name].keys[0]} of a system's record that no "
                "key or field rule matches right. First of the match rules.",
                "columns": [
                    {"name": "source", "description": "Source system.", "data_type": "varchar"},
                    {
                        "name": "source_id",
                        "description": "The record's id there.",
                        "data_type": "varchar",
                    },
                    {
                        "name": "canonical_id",
                        "description": f"The canonical {dictionary.entities[name].keys[0]} it is.",
                        "data_type": "varchar",
                    },
                ],
            }  # fmt: skip
            for name in entity_names
        ],
    }


CROSSWALK_MART_YAML = {
    "version": 2,
    "models": [
        {
            "name": "crosswalk",
            "description": "Every system's id for every entity, and the canonical id it maps "
            "to: look up where a record came from, or which records became one.",
            "columns": [
                {"name": "entity", "description": "Dictionary entity.", "data_type": "varchar"},
                {"name": "source", "description": "Source system.", "data_type": "varchar"},
                {"name": "source_table", "description": "Its table.", "data_type": "varchar"},
                {"name": "source_id", "description": "The id there.", "data_type": "varchar"},
                {"name": "canonical_id", "description": "The canonical id; null when no "
                 "match rule found one.", "data_type": "varchar"},
                {"name": "matched_by", "description": "The match rule that found it (key, "
                 "a field such as email, or unmatched).", "data_type": "varchar"},
            ],
        }
    ],
}  # fmt: skip


# --- the dictionary page ------------------------------------------------------------------


def _rule_text(rule: list[str] | str) -> str:
    return "most recent" if rule == "most_recent" else " > ".join(rule)


def _field_rows(entity: Entity, feeding: list[MappedTable]) -> list[str]:
    """One table row per canonical field, with the source fields that feed it."""
    rows = []
    for field_name, field in entity.fields.items():
        fed = [
            f"{t.source.name}.{t.table}." + " + ".join(f"`{s}`" for s in [src, *(fmap.join or [])])
            for t in feeding
            for src, fmap in t.mapping.field_maps().items()
            if fmap.to == field_name
        ]
        kind = field.type + (f" ({field.format})" if field.format else "")
        description = field.description.replace("|", "\\|")
        rows.append(
            f"| `{field_name}` | {kind} | {description} | {field.personal_data or ''} | "
            f"{'<br>'.join(fed) or '—'} |"
        )
    return rows


def dictionary_page(mappings: list[SourceMapping], dictionary: Dictionary) -> str:
    """docs/dictionary.md: every canonical field and the source fields that feed it."""
    tables = mapped_tables(mappings, dictionary)
    out = [
        "# Data dictionary",
        "",
        "<!-- " + HEADER.format(origin="the mappings").replace("\n", " ") + " -->",
        "",
        "Every canonical field, and the source fields that feed it. Entities are defined in",
        "`sources/dictionary/entities.yaml`; each system's fields are mapped in",
        "`sources/<source>.mapping.yaml`. Analysts find the conformed entities in",
        "`intermediate.int_<entity>__conformed` and the marts built on them.",
    ]
    for name, entity in dictionary.entities.items():
        out += ["", f"## {name}", "", entity.description, ""]
        if entity.synonyms:
            out += [
                f"Also called (tables `map suggest` reads as it): {', '.join(entity.synonyms)}",
                "",
            ]
        out.append(
            f"Key: `{', '.join(entity.keys)}` · match: {', '.join(entity.match)} · "
            f"survivorship: {_rule_text(entity.survivorship.default)}"
        )
        out += [
            "",
            "| field | type | description | personal data | fed by |",
            "|---|---|---|---|---|",
        ]
        out += _field_rows(entity, [t for t in tables if t.entity_name == name])
    return "\n".join(out) + "\n"
