"""Conformed models, one per entity: the crosswalk that matches every system's records to one
canonical key (match rules in order), the conformed model that takes each field from the
winning system (survivorship) and converts money to the base currency, and the crosswalk mart.
"""

from tributary.contracts.dictionary import SQL_TYPES, Entity
from tributary.contracts.resolved import MappedTable, conformed_columns, xref_seed
from tributary.standardize.dbt_codegen.text import sql_header, sql_list

FX_MODEL = "int_fx_rates_to_base"  # rate_date, currency, rate_to_base: see intermediate/
ORIGIN = "the mappings"


def _order_newest(t: MappedTable, alias: str) -> str:
    keys = [f"{alias}._updated_at desc nulls last", f"{alias}._load_id desc"]
    keys += [f"{alias}.{name} desc" for name in t.row_position.values()]
    return ", ".join(keys)


def _newest_per(t: MappedTable, partition: str, indent: str) -> str:
    """Keeps the newest version of a record a source table delivered more than once."""
    return (
        f"{indent}qualify row_number() over (\n"
        f"{indent}    partition by {partition} order by {_order_newest(t, 'staged')}\n"
        f"{indent}) = 1"
    )


def _mapped(t: MappedTable) -> set[str]:
    return {f.to for f in t.mapping.field_maps().values()}


def _has_rule(tables: list[MappedTable], rule: str) -> bool:
    return any(rule in _mapped(t) for t in tables)


# --- the crosswalk ------------------------------------------------------------------------


def _records_cte(key: str, fields: list[str], tables: list[MappedTable]) -> list[str]:
    """Each source record once (its newest version), with the key and fields it matches by."""
    branches = []
    for t in tables:
        mapped = _mapped(t)
        picks = [
            "_source as source",
            "_source_table as source_table",
            "_source_id as source_id",
            f"{key} as derived_key" if key in mapped else "cast(null as varchar) as derived_key",
        ] + [f"{r} as match_{r}" for r in fields if r in mapped]
        branches.append(
            "    (\n        select\n            "
            + ",\n            ".join(picks)
            + f"\n        from {{{{ ref('{t.model}') }}}} as staged\n"
            + _newest_per(t, "_source_id", "        ")
            + "\n    )"
        )
    return ["", "with records as (", "\n    union all by name\n".join(branches), "),"]


def _xref_cte(entity_name: str, entity: Entity) -> list[str]:
    seed = xref_seed(entity_name)
    return [
        "",
        f"-- declared by a data steward in seeds/xref/{seed}.csv",
        "xref as (",
        "    select source, source_id, "
        f"cast(canonical_id as {SQL_TYPES[entity.fields[entity.keys[0]].type]}) as matched_key",
        f"    from {{{{ ref('{seed}') }}}}",
        "),",
    ]


def _field_rule_cte(rule: str) -> list[str]:
    return [
        "",
        f"-- a record without a key takes the key of the one keyed record with its {rule}",
        f"by_{rule} as (",
        f"    select match_{rule}, min(derived_key) as matched_key",
        "    from records",
        f"    where derived_key is not null and match_{rule} is not null",
        f"    group by match_{rule}",
        "    having count(distinct derived_key) = 1",
        "),",
    ]


def _matched_select(key: str, rules: list[str], fields: list[str]) -> list[str]:
    """Every record with the key the first rule that found one gave it, and which rule."""
    found = {"key": "records.derived_key", "xref": "xref.matched_key"}
    found |= {r: f"by_{r}.matched_key" for r in fields}
    lines = [
        "",
        "select",
        "    records.source,",
        "    records.source_table,",
        "    records.source_id,",
        f"    coalesce({', '.join(found[r] for r in rules)}) as {key},",
        "    case",
    ]
    lines += [f"        when {found[r]} is not null then '{r}'" for r in rules]
    lines += ["        else 'unmatched'", "    end as matched_by", "from records"]
    if "xref" in rules:
        lines.append(
            "left join xref on records.source = xref.source and records.source_id = xref.source_id"
        )
    return lines + [f"left join by_{r} on records.match_{r} = by_{r}.match_{r}" for r in fields]


def crosswalk_sql(entity_name: str, entity: Entity, tables: list[MappedTable]) -> str:
    key = entity.keys[0]
    # field rules no table maps cannot match anything: left out
    fields = [r for r in entity.match if r not in ("key", "xref") and _has_rule(tables, r)]
    rules = [r for r in entity.match if r in ("key", "xref") or r in fields]
    lines = sql_header(ORIGIN)
    lines.append(
        f"-- Every system's id for each {entity_name} record, with the canonical {key} it matched "
        f"(match rules in order: {', '.join(rules)})."
    )
    lines += _records_cte(key, fields, tables)
    if "xref" in entity.match:
        lines += _xref_cte(entity_name, entity)
    for rule in fields:
        lines += _field_rule_cte(rule)
    lines[-1] = lines[-1].rstrip(",")
    lines += _matched_select(key, rules, fields)
    return "\n".join(lines) + "\n"


def crosswalk_mart_sql(entities: dict[str, tuple[Entity, list[MappedTable]]]) -> str:
    lines = sql_header(ORIGIN)
    lines += ["-- Every system's id for every entity, and the canonical id it maps to.", ""]
    branches = [
        f"select\n    '{name}' as entity,\n    source,\n    source_table,\n    source_id,\n"
        f"    cast({entity.keys[0]} as varchar) as canonical_id,\n    matched_by\n"
        f"from {{{{ ref('int_{name}__crosswalk') }}}}"
        for name, (entity, _) in entities.items()
        if len(entity.keys) == 1
    ]
    return "\n".join(lines) + "\nunion all\n".join(branches) + "\n"


# --- the conformed model ------------------------------------------------------------------


def _conformed_header(entity_name: str, entity: Entity, tables: list[MappedTable]) -> list[str]:
    default = entity.survivorship.default
    sources = ", ".join(f"{t.source.name}.{t.table}" for t in tables)
    rule_text = "most recent" if default == "most_recent" else ", ".join(default)
    exceptions = ", ".join(f"{f}: {r}" for f, r in entity.survivorship.fields.items())
    return [
        *sql_header(ORIGIN),
        f"-- One row per {entity_name} ({', '.join(entity.keys)}) from {sources}.",
        f"-- A field takes the first value found in: {rule_text}"
        + (f"; except {exceptions}" if exceptions else "")
        + ".",
        "",
        "with",
    ]


def _not_quarantined(entity_name: str, keyword: str) -> str:
    return (
        f"    -- rows a blocking rule holds back (quality.quarantine_{entity_name}) stop here\n"
        f"    {keyword} not exists (\n"
        f"        select 1 from {{{{ source('quality', 'quarantine_{entity_name}') }}}} as held\n"
        "        where held.source = staged._source\n"
        "            and held.source_table = staged._source_table\n"
        "            and held.record_id = staged._record_id\n"
        "    )\n"
    )


_NEWEST_COMMENT = "    -- the newest version of a record delivered more than once\n"


def _matched_records(entity_name: str, key: str, t: MappedTable) -> str:
    """A table's records with the canonical key the crosswalk found (none: left out)."""
    excluded = ([key] if key in _mapped(t) else []) + ["_unreadable"]
    return (
        f"    select\n        crosswalk.{key},\n"
        f"        staged.* exclude ({', '.join(excluded)})\n"
        f"    from {{{{ ref('{t.model}') }}}} as staged\n"
        "    inner join crosswalk\n"
        "        on staged._source = crosswalk.source\n"
        "        and staged._source_table = crosswalk.source_table\n"
        "        and staged._source_id = crosswalk.source_id\n"
        f"    where crosswalk.{key} is not null\n"
        + _not_quarantined(entity_name, "and")
        + _NEWEST_COMMENT
        + _newest_per(t, "staged._source_id", "    ")
    )


def _keyed_records(entity_name: str, keys: list[str], t: MappedTable) -> str:
    """A table's records of an entity keyed by several fields, which every table carries."""
    return (
        "    select * exclude (_unreadable)\n"
        f"    from {{{{ ref('{t.model}') }}}} as staged\n"
        + _not_quarantined(entity_name, "where")
        + _NEWEST_COMMENT
        + _newest_per(t, ", ".join("staged." + k for k in keys), "    ")
    )


def _survivor(column: str, rule: list[str] | str, default: list[str] | str, filter_on: str) -> str:
    """First non-null value of a column by its rule: a ranking of systems, or the newest."""
    # ties (equal time, same system) go to the lowest id, so a rebuild never flips a value
    if rule == "most_recent":
        order = "_updated_at desc nulls last, _source, _source_id"
    elif rule == default:
        order = "_rank, _updated_at desc nulls last, _source_id"
    else:
        order = (
            f"list_position({sql_list(rule)}, _source) nulls last, "
            "_updated_at desc nulls last, _source_id"
        )
    return f"first({column} order by {order}) filter (where {filter_on} is not null) as {column}"


def _unioned_cte(entity: Entity, tables: list[MappedTable]) -> str:
    """All tables' records in one, each ranked by the default survivorship (unless newest)."""
    default = entity.survivorship.default
    rank = (
        ""
        if default == "most_recent"
        else f", list_position({sql_list(default)}, _source) as _rank"
    )
    union = [f"    select *{rank} from {t.cte}" for t in tables]
    return "unioned as (\n" + "\n    union all by name\n".join(union) + "\n)"


def _survivors_cte(entity: Entity, tables: list[MappedTable]) -> str:
    """One row per key: each field from the system its survivorship rule prefers."""
    keys = entity.keys
    default = entity.survivorship.default
    survivors = []
    for column in conformed_columns(entity, tables):
        if column in keys:
            continue
        base = column.removesuffix("_currency")
        field_rule = entity.survivorship.fields.get(base, default)
        survivors.append(_survivor(column, field_rule, default, base))
    survivors += [
        "list_sort(list_distinct(list(_source))) as _sources",
        "list(_source || '.' || _source_table order by _source, _source_table) as _merged_from",
        "max(_updated_at) as _updated_at",
    ]
    return (
        "conformed as (\n    select\n        "
        + ",\n        ".join(keys + survivors)
        + "\n    from unioned\n    group by "
        + ", ".join(keys)
        + "\n)"
    )


def _base_currency_select(entity: Entity, tables: list[MappedTable]) -> list[str]:
    """The conformed rows, with each dated money field also in the base currency."""
    columns = conformed_columns(entity, tables)
    money = [
        (name, field)
        for name, field in entity.fields.items()
        if field.type == "money" and field.as_of and name in columns
    ]
    lines = ["", "select", "    conformed.*" + ("," if money else "")]
    for i, (name, _) in enumerate(money):
        comma = "," if i < len(money) - 1 else ""
        lines.append(
            f"    round(conformed.{name} * fx_{name}.rate_to_base, 2) as {name}_base{comma}"
        )
    lines.append("from conformed")
    for name, field in money:
        lines += [
            f"-- {name} in the base currency at the rate valid on {field.as_of}",
            f"asof left join {{{{ ref('{FX_MODEL}') }}}} as fx_{name}",
            f"    on conformed.{name}_currency = fx_{name}.currency",
            f"    and conformed.{field.as_of} >= fx_{name}.rate_date",
        ]
    return lines


def conformed_sql(entity_name: str, entity: Entity, tables: list[MappedTable]) -> str:
    keys = entity.keys
    ctes = []
    if len(keys) == 1:
        ref = f"{{{{ ref('int_{entity_name}__crosswalk') }}}}"
        ctes.append(f"crosswalk as (\n    select * from {ref}\n)")
        records = [_matched_records(entity_name, keys[0], t) for t in tables]
    else:
        records = [_keyed_records(entity_name, keys, t) for t in tables]
    ctes += [f"{t.cte} as (\n{select}\n)" for t, select in zip(tables, records, strict=True)]
    ctes += [_unioned_cte(entity, tables), _survivors_cte(entity, tables)]
    lines = _conformed_header(entity_name, entity, tables)
    lines.append(",\n\n".join(ctes))
    lines += _base_currency_select(entity, tables)
    return "\n".join(lines) + "\n"
