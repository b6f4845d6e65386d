"""``tributary discover <source>``: resolve a source's ``discover`` patterns into declared tables.

Dagster needs every raw table as an asset when the definitions load, and loading definitions must
not connect to a database. So a whole database is declared by patterns and resolved by this step:
it lists the live database's tables, keeps those matching ``include`` and not ``exclude`` that no
declared table reads yet, reads their primary keys from the catalog and the ``discover`` cursor
column where the table has it, and appends them to the file's ``tables`` list, leaving the rest of
the file (comments included) as it was. The change is reviewed and committed like any other; each
load warns about new matching tables until this step is run again.
"""

import sys
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import sqlalchemy as sa
import yaml
from dlt.common.normalizers.naming.snake_case import NamingConvention

from tributary.contracts.database_url import database_url
from tributary.contracts.source import SourceSpec, resolve_env
from tributary.contracts.sql_database import SqlDatabase, SqlTable
from tributary.settings import Settings

DISCOVERING = {"discovering": True}  # validation context: `tables` may still be empty


def discovered_tables(engine: sa.Engine, db: SqlDatabase) -> list[dict[str, Any]]:
    """Entries for the tables matching ``db.discover`` that no declared table reads yet."""
    inspector = sa.inspect(engine)
    taken = {t.name for t in db.tables}
    entries = []
    for source in db.undeclared(inspector.get_table_names(schema=db.schema_)):
        target = target_name(source)
        if target in taken:  # e.g. `Orders` beside a declared `orders`: left to a person
            continue
        entry: dict[str, Any] = {"name": target}
        if target != source:
            entry["table"] = source
        key = inspector.get_pk_constraint(source, schema=db.schema_)["constrained_columns"]
        if key:
            entry["primary_key"] = key[0] if len(key) == 1 else key
        columns = {c["name"] for c in inspector.get_columns(source, schema=db.schema_)}
        if db.discover.incremental in columns:
            entry["incremental"] = db.discover.incremental
        SqlTable.model_validate(entry)
        entries.append(entry)
        taken.add(target)
    return entries


def target_name(source: str) -> str:
    """A valid target table name for a source table (``OrderLines`` -> ``order_lines``)."""
    name = NamingConvention().normalize_table_identifier(source).strip("_")
    return name if name[:1].isalpha() else f"t_{name}"


def with_tables(text: str, entries: list[dict[str, Any]]) -> str:
    """The file's text with ``entries`` appended to ``sql_database.tables``, all else unchanged."""
    if not text.endswith("\n"):
        text += "\n"
    section = _value(yaml.compose(text), "sql_database")
    if not isinstance(section, yaml.MappingNode):
        raise ValueError("no `sql_database` section to add tables to")
    block = yaml.safe_dump(entries, sort_keys=False, allow_unicode=True)
    tables = _value(section, "tables")
    if tables is None:  # only `discover` so far: add the key at the section's indentation
        indent = section.value[0][0].start_mark.column
        at = _line_start(text, section.end_mark.index)
        return text[:at] + " " * indent + "tables:\n" + _indented(block, indent + 2) + text[at:]
    if isinstance(tables, yaml.SequenceNode) and not tables.flow_style:
        at = _line_start(text, tables.end_mark.index)
        return text[:at] + _indented(block, tables.start_mark.column) + text[at:]
    if isinstance(tables, yaml.SequenceNode) and not tables.value:  # `tables: []`
        indent = section.value[0][0].start_mark.column + 2
        start, end = tables.start_mark.index, tables.end_mark.index
        return text[:start].rstrip(" ") + "\n" + _indented(block, indent) + text[end:].lstrip("\n")
    raise ValueError("`tables` is written inline: write it as a block list (`- name: …` lines)")


def discover(
    settings: Settings, source: str, check: bool = False, environ: Mapping[str, str] | None = None
) -> int:
    """The CLI command: add the newly matching tables to ``sources/<source>.yaml``.

    With ``check`` nothing is written and the exit code is 1 when tables would be added, so CI or
    a schedule can tell that the database grew.
    """
    path = settings.sources_dir / f"{source}.yaml"
    try:
        text = path.read_text(encoding="utf-8")
        spec = SourceSpec.model_validate(yaml.safe_load(text), context=DISCOVERING)
        db = spec.sql_database
        if db is None or db.discover is None:
            raise ValueError("it has no `sql_database.discover` patterns")
        engine = sa.create_engine(database_url(resolve_env(db.credentials, environ)))
        try:
            entries = discovered_tables(engine, db)
        finally:
            engine.dispose()
        if not entries:
            print(f"{path}: no new tables match `discover`")
            return 0
        names = ", ".join(e["name"] for e in entries)
        if check:
            print(f"{path}: {len(entries)} new table(s) match `discover`: {names}")
            return 1
        updated = with_tables(text, entries)
        SourceSpec.model_validate(yaml.safe_load(updated))
        _write(path, updated)
    except Exception as exc:  # one line per problem, as `tributary validate` does
        print(f"{path}: cannot discover tables: {exc}", file=sys.stderr)
        return 1
    print(f"{path}: added {len(entries)} table(s): {names}")
    return 0


def _value(node: yaml.Node | None, key: str) -> yaml.Node | None:
    if not isinstance(node, yaml.MappingNode):
        return None
    return next((v for k, v in node.value if k.value == key), None)


def _line_start(text: str, index: int) -> int:
    return text.rfind("\n", 0, index) + 1


def _indented(block: str, indent: int) -> str:
    return "".join(" " * indent + line if line.strip() else line for line in block.splitlines(True))


def _write(path: Path, text: str) -> None:
    """Write beside and rename, so an interrupted write never leaves half a source file."""
    partial = path.with_name(f".{path.name}.partial")
    partial.write_text(text, encoding="utf-8")
    partial.replace(path)
