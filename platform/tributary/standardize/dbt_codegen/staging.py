"""Staging models: one per mapped source table, renaming, casting and converting its columns
into the entity's fields (nothing dropped), with their sources and docs.

A value that was sent but that no conversion could read is kept in ``_unreadable``, so the
quality layer's rules can quarantine or report it instead of it becoming null unnoticed.
"""

from tributary.contracts.dictionary import SQL_TYPES, CanonicalField
from tributary.contracts.mapping import FieldMap, SourceMapping
from tributary.contracts.resolved import MappedTable
from tributary.standardize.dbt_codegen.text import macro, name_part, sql_header, sql_string

UNREADABLE_TYPE = "struct(field varchar, value varchar)[]"


def conversion(column: str, fmap: FieldMap, field: CanonicalField) -> str:
    """The SQL expression turning one raw column into the canonical field's value."""
    col = column
    match field.type:
        case "id" if field.format:
            return macro("canonical_id", col, field.format)
        case "id" | "string":
            return (
                macro("clean_text", col, case=fmap.case) if fmap.case else macro("clean_text", col)
            )
        case "email":
            return macro("clean_email", col)
        case "phone":
            return macro("to_e164", col)
        case "date":
            return macro("parse_date", col, fmap.formats or ["iso"])
        case "timestamp":
            kwargs = {"timezone": fmap.timezone} if fmap.timezone else {}
            return macro("parse_timestamp", col, fmap.formats or ["iso"], **kwargs)
        case "code":
            codes = {**(field.codes or {}), **(fmap.codes or {})}
            missing = fmap.when_missing or field.when_missing
            kwargs = {"when_missing": missing} if missing else {}
            return macro("map_code", col, codes, **kwargs)
        case "boolean":
            return f"try_cast({macro('clean_text', col)} as boolean)"
        case "integer" if fmap.factor is None and fmap.decimal_mark == ".":
            return f"try_cast({macro('clean_text', col)} as bigint)"
        case "integer":
            number = macro("parse_decimal", col, decimal_mark=fmap.decimal_mark, scale=6)
            factor = f" * {fmap.factor}" if fmap.factor is not None else ""
            return f"cast(round({number}{factor}) as bigint)"
        case "decimal" | "money":
            scale = 2 if field.type == "money" else 6
            kwargs = {"decimal_mark": fmap.decimal_mark} if fmap.decimal_mark != "." else {}
            number = macro("parse_decimal", col, scale=scale, **kwargs)
            if fmap.factor is not None:
                number = f"cast({number} * {fmap.factor} as decimal(18, {scale}))"
            return number
    raise ValueError(f"no conversion for type {field.type}")  # pragma: no cover


def _currency_column(t: MappedTable, fmap: FieldMap) -> tuple[str, str]:
    """A money field's currency: the one the mapping declares, or the column that says it."""
    if fmap.currency:
        return sql_string(fmap.currency), f"Always {fmap.currency}, as the mapping declares."
    expression = macro("clean_text", t.column(fmap.currency_field or ""), case="upper")
    return expression, f"From {t.source.name} `{fmap.currency_field}`."


def _joined(t: MappedTable, parts: list[str]) -> str:
    """One raw column, or several joined with a space, empty ones skipped (first + last name)."""
    if len(parts) == 1:
        return t.column(parts[0])
    pieces = [f"nullif(trim(cast({t.column(p)} as varchar)), '')" for p in parts]
    return f"concat_ws(' ', {', '.join(pieces)})"


def staging_columns(t: MappedTable) -> list[tuple[str, str, str]]:
    """(expression, output column, where it comes from) in the entity's field order."""
    by_target = {f.to: (name, f) for name, f in t.mapping.field_maps().items()}
    out = []
    for field_name, field in t.entity.fields.items():
        if field_name not in by_target:
            continue
        source_field, fmap = by_target[field_name]
        parts = [source_field, *(fmap.join or [])]
        origin = f"From {t.source.name} " + " + ".join(f"`{p}`" for p in parts) + "."
        out.append((conversion(_joined(t, parts), fmap, field), field_name, origin))
        if field.type == "money":
            currency, origin = _currency_column(t, fmap)
            out.append((currency, f"{field_name}_currency", origin))
    return out


def _lineage_columns(t: MappedTable) -> list[tuple[str, str]]:
    ids = [t.column(f) for f in t.id_fields()]
    source_id = (
        f"cast({ids[0]} as varchar)"
        if len(ids) == 1
        # a null part stays visible (''), so (1, null) and (null, 1) stay apart
        else "concat_ws('|', " + ", ".join(f"coalesce(cast({c} as varchar), '')" for c in ids) + ")"
    )
    updated = (
        macro("parse_timestamp", t.column(t.mapping.updated_at), ["iso"])
        if t.mapping.updated_at
        else "cast(null as timestamp)"
    )
    columns = [
        (sql_string(t.source.name), "_source"),
        (sql_string(t.table), "_source_table"),
        (source_id, "_source_id"),
        (updated, "_updated_at"),
    ]
    columns += list(t.row_position.items())
    columns.append(("_dlt_load_id", "_load_id"))
    return columns


def _may_be_unreadable(field: CanonicalField) -> bool:
    """Whether a conversion can turn a value that was sent into null (and so lose it)."""
    return field.type not in ("string", "email") and not (field.type == "id" and not field.format)


def unreadable_fields(t: MappedTable) -> list[tuple[str, str]]:
    """(canonical field, raw column) of the fields whose conversion can fail."""
    return [
        (fmap.to, t.column(source_field))
        for source_field, fmap in t.mapping.field_maps().items()
        if _may_be_unreadable(t.entity.fields[fmap.to])
    ]


def _staged_cte(t: MappedTable, checked: list[tuple[str, str]]) -> list[str]:
    """The source table's columns converted, its lineage, and (to compare) the values sent."""
    lines = ["staged as (", "    select"]
    body = [(expr, name) for expr, name, _ in staging_columns(t)] + _lineage_columns(t)
    if checked:
        sent = ",\n".join(f"            '{name}': cast({raw} as varchar)" for name, raw in checked)
        body.append(("{\n" + sent + "\n        }", "_sent"))
    for i, (expr, name) in enumerate(body):
        comma = "," if i < len(body) - 1 else ""
        if name == "_sent":
            lines.append(
                "        -- the values as sent, to tell one no conversion could read from none"
            )
        lines.append(f"        {expr} as {name}{comma}")
    return [*lines, "    from source", ")"]


def _unreadable_column(checked: list[tuple[str, str]]) -> list[str]:
    """`_unreadable`: each field sent but null after its conversion, with the value sent."""
    if not checked:
        return [f"    cast([] as {UNREADABLE_TYPE}) as _unreadable"]
    cases = [
        f"        case when {name} is null and {macro('clean_text', f'_sent.{name}')} "
        f"is not null then {{'field': '{name}', 'value': _sent.{name}}} end"
        for name, _ in checked
    ]
    lines = ["    list_filter(["]
    lines += [c + ("," if i < len(cases) - 1 else "") for i, c in enumerate(cases)]
    return [*lines, "    ], lambda e: e is not null) as _unreadable"]


def staging_sql(t: MappedTable) -> str:
    lines = sql_header(t.source.path.name)
    lines.append(f"-- {t.source.name}.{t.table} → {t.entity_name}")
    lines += [
        "",
        "with source as (",
        f"    select * from {{{{ source('{t.source.spec.dataset}', '{t.table}') }}}}",
        "),",
        "",
    ]
    checked = unreadable_fields(t)
    lines += _staged_cte(t, checked)
    record = ["coalesce(_source_id, '')", "_load_id"]
    record += [f"cast({name} as varchar)" for name in t.row_position.values()]
    # (rows without an id of a non-file source share one record id per load: merge and replace
    # sources have a primary key, so there is at most one such row)
    lines += [
        "",
        "select",
        "    * exclude (_sent)," if checked else "    *,",
        f"    concat_ws('|', {', '.join(record)}) as _record_id,",
        "    -- values sent that no conversion could read: the dictionary's rules quarantine or",
        "    -- report them, so nothing becomes null unnoticed",
    ]
    lines += _unreadable_column(checked)
    lines.append("from staged")
    return "\n".join(lines) + "\n"


def field_doc(field: CanonicalField) -> dict:
    """A canonical field's column doc: its description and SQL type."""
    return {"description": field.description, "data_type": SQL_TYPES[field.type]}


_LINEAGE_DOCS = {
    "_source": ("varchar", "The source system the row came from."),
    "_source_table": ("varchar", "The source system's table the row came from."),
    "_source_id": ("varchar", "The record's id in its source system."),
    "_updated_at": ("timestamp", "When the source system last changed the record, UTC."),
    "_source_file": ("varchar", "The export file the row came from."),
    "_source_line": ("bigint", "The line of that file."),
    "_load_id": ("varchar", "The dlt load that brought the row."),
    "_record_id": ("varchar", "This delivered row: source id, load and (for files) file and line."),
    "_unreadable": (
        UNREADABLE_TYPE,
        "Fields whose value was sent but no conversion could read, with the value as sent.",
    ),
}


def lineage_doc(name: str) -> dict:
    """The column doc of one of the lineage columns every staging model adds."""
    data_type, description = _LINEAGE_DOCS[name]
    return {"name": name, "description": description, "data_type": data_type}


def _staging_column_docs(t: MappedTable) -> list[dict]:
    columns = []
    for _, name, origin in staging_columns(t):
        base = name.removesuffix("_currency")
        if name.endswith("_currency") and base in t.entity.fields:
            doc = {"description": f"Currency of {base} (ISO 4217).", "data_type": "varchar"}
        else:
            doc = field_doc(t.entity.fields[name])
        column = {"name": name, **doc}
        column["description"] += f" {origin}"
        if name in t.entity.keys and t.entity.match == ["key"]:
            column["data_tests"] = ["not_null"]
        columns.append(column)
    columns += [lineage_doc(name) for _, name in _lineage_columns(t)]
    return [*columns, lineage_doc("_record_id"), lineage_doc("_unreadable")]


def staging_yaml(mapping: SourceMapping, tables: list[MappedTable]) -> dict:
    models = [
        {
            "name": t.model,
            "description": f"{mapping.name}.{t.table} as {t.entity_name}: "
            f"{t.entity.description} Renamed, cast and converted; nothing dropped.",
            "columns": _staging_column_docs(t),
        }
        for t in tables
    ]
    return {"version": 2, "models": models}


def _code_column_docs(t: MappedTable) -> list[dict]:
    """The raw columns feeding code fields, each with a (warning) test that its codes map."""
    columns = []
    for source_field, fmap in t.mapping.field_maps().items():
        field = t.entity.fields[fmap.to]
        if field.type != "code":
            continue
        codes = sorted({**(field.codes or {}), **(fmap.codes or {})})
        mapped_codes = {
            # A readable check name (dbt's own lists every code).
            "name": f"{t.cte}__{name_part(fmap.to)}__codes_mapped",
            "arguments": {"codes": codes},
            "config": {"severity": "warn"},
        }
        columns.append(
            {
                "name": t.source.raw_column(source_field),
                "description": f"Feeds {t.entity_name}.{fmap.to}.",
                "data_tests": [{"mapped_codes": mapped_codes}],
            }
        )
    return columns


def sources_yaml(mapping: SourceMapping, tables: list[MappedTable]) -> dict:
    spec = mapping.spec
    out_tables = []
    for t in tables:
        entry: dict = {"name": t.table, "description": f"{t.table} as {spec.name} sends it."}
        columns = _code_column_docs(t)
        if columns:
            entry["columns"] = columns
        out_tables.append(entry)
    source = {
        "name": spec.dataset,
        "description": f"{spec.description or spec.name}, loaded as sent by dlt.",
        "schema": spec.dataset,
        "tables": out_tables,
    }
    return {"version": 2, "sources": [source]}
