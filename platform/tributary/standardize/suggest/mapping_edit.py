"""Adding tables and fields to a mapping file's *text*, leaving the rest exactly as it was.

A person owns ``sources/<source>.mapping.yaml``: its comments, order and quoting stay. So new
entries are inserted as text at the places PyYAML's node positions point to (after the last
entry of a block mapping, at its indentation; before the closing brace of a flow mapping)
instead of re-dumping the file, which would drop every comment.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import yaml

SCHEMA_LINE = "# yaml-language-server: $schema=schemas/mapping.schema.json"


@dataclass
class Entry:
    key: str
    value: Any  # a scalar, or a dict written as a flow mapping ({to: …, formats: […]})
    comment: str = ""


@dataclass
class TableAddition:
    """What to add for one table: a new table has an entity; an existing one only gains."""

    table: str
    entity: str | None = None  # set for a table the file does not have yet
    updated_at: str | None = None
    fields: list[Entry] = field(default_factory=list)


def flow(value: Any) -> str:
    """A key or value as YAML flow text, quoted where YAML needs it (`'%d/%m/%Y'`, `'yes'`)."""
    text = yaml.safe_dump(
        [value], default_flow_style=True, allow_unicode=True, sort_keys=False, width=10**6
    )
    return text.strip()[1:-1]


def _line(indent: int, key: str, value: Any | None, comment: str = "") -> str:
    text = " " * indent + flow(key) + ":" + ("" if value is None else " " + flow(value))
    return text + (f"  # {comment}" if comment else "") + "\n"


def _table_block(addition: TableAddition, indent: int, step: int = 2) -> str:
    lines = [_line(indent, addition.table, None)]
    lines.append(_line(indent + step, "entity", addition.entity))
    if addition.updated_at:
        lines.append(_line(indent + step, "updated_at", addition.updated_at))
    lines.append(_line(indent + step, "fields", None))
    lines += [_line(indent + 2 * step, e.key, e.value, e.comment) for e in addition.fields]
    return "".join(lines)


def _table_flow(addition: TableAddition) -> str:
    body = {"entity": addition.entity}
    if addition.updated_at:
        body["updated_at"] = addition.updated_at
    body["fields"] = {e.key: e.value for e in addition.fields}
    return f"{flow(addition.table)}: {flow(body)}"


def new_file(header: list[str], additions: list[TableAddition]) -> str:
    lines = [SCHEMA_LINE + "\n", *(f"# {h}\n" for h in header), "tables:\n"]
    return "".join(lines) + "".join(_table_block(a, 2) for a in additions)


def _get(node: yaml.Node | None, key: str) -> yaml.Node | None:
    if not isinstance(node, yaml.MappingNode):
        return None
    return next((v for k, v in node.value if k.value == key), None)


def _last_leaf_end(node: yaml.Node) -> int:
    """Where the text of a block node's last entry ends (before any comment after it)."""
    if isinstance(node, yaml.MappingNode | yaml.SequenceNode) and not node.flow_style:
        if node.value:
            last = node.value[-1]
            return _last_leaf_end(last[1] if isinstance(last, tuple) else last)
    return node.end_mark.index


def _after_line(text: str, index: int) -> int:
    """The start of the line after the one holding ``index`` (a comment on it stays there)."""
    if index > 0 and text[index - 1] == "\n":
        return index
    end = text.find("\n", index)
    return len(text) if end < 0 else end + 1


class _Edits:
    """Insertions and replacements at positions of the original text, applied back to front."""

    def __init__(self, text: str):
        self.text = text if text.endswith("\n") else text + "\n"
        self.changes: list[tuple[int, int, int, str]] = []

    def insert(self, at: int, text: str, end: int | None = None) -> None:
        self.changes.append((at, len(self.changes), at if end is None else end, text))

    def apply(self) -> str:
        text = self.text
        for start, _, end, piece in sorted(self.changes, reverse=True):
            text = text[:start] + piece + text[end:]
        return text

    def add_entries(self, node: yaml.MappingNode, entries: list[str], flows: list[str]) -> None:
        """Block lines (already indented) after the last entry, or flow pairs before `}`."""
        if node.flow_style:
            close = node.end_mark.index - 1
            self.insert(close, (", " if node.value else "") + ", ".join(flows))
        else:
            self.insert(_after_line(self.text, _last_leaf_end(node)), "".join(entries))

    def fill_empty(self, value: yaml.ScalarNode, block: str) -> None:
        """`key:` (or `key: ~`) with nothing under it: the block goes under the key."""
        start = value.start_mark.index
        while start > 0 and self.text[start - 1] == " ":
            start -= 1
        self.insert(start, "", value.end_mark.index)  # drop a `~` or `null` and the space
        self.insert(_after_line(self.text, value.end_mark.index), block)


def _key_column(node: yaml.MappingNode, fallback: int) -> int:
    return node.value[0][0].start_mark.column if node.value else fallback


def _is_empty(node: yaml.Node | None) -> bool:
    return isinstance(node, yaml.ScalarNode) and node.value in ("", "~", "null", "Null", "NULL")


def _key_of(parent: yaml.MappingNode, value: yaml.Node) -> yaml.Node:
    return next(k for k, v in parent.value if v is value)


def with_additions(text: str, additions: list[TableAddition]) -> str:
    """The mapping file's text with the additions in place; everything else byte for byte.

    Raises ValueError when the file's shape leaves no sensible place (e.g. `tables` is a list).
    """
    edits = _Edits(text)
    root = yaml.compose(edits.text)
    if not isinstance(root, yaml.MappingNode):
        raise ValueError("the file is not a mapping of keys")
    tables = _get(root, "tables")
    new = [a for a in additions if a.entity is not None]
    if tables is None:
        indent = _key_column(root, 0)
        block = " " * indent + "tables:\n" + "".join(_table_block(a, indent + 2) for a in new)
        edits.insert(_after_line(edits.text, _last_leaf_end(root)), block)
        return edits.apply()
    if _is_empty(tables):
        indent = _key_of(root, tables).start_mark.column + 2
        edits.fill_empty(tables, "".join(_table_block(a, indent) for a in new))
        return edits.apply()
    if not isinstance(tables, yaml.MappingNode):
        raise ValueError("`tables` is not a mapping of table names")
    indent = _key_column(tables, 2)
    # Existing tables first: where the last table's new lines and the new tables both go
    # after the file's last entry, what is registered first comes first.
    for addition in additions:
        if addition.entity is None:
            _add_to_table(edits, tables, addition, indent)
    if new:
        edits.add_entries(
            tables, [_table_block(a, indent) for a in new], [_table_flow(a) for a in new]
        )
    return edits.apply()


def _add_to_table(
    edits: _Edits, tables: yaml.MappingNode, addition: TableAddition, indent: int
) -> None:
    table = _get(tables, addition.table)
    if not isinstance(table, yaml.MappingNode):
        raise ValueError(f"table {addition.table!r} is not a mapping")
    inner = _key_column(table, indent + 2)
    if addition.updated_at:
        line = _line(inner, "updated_at", addition.updated_at)
        entity = _get(table, "entity")
        if table.flow_style or entity is None:
            edits.add_entries(table, [line], [f"updated_at: {flow(addition.updated_at)}"])
        else:
            edits.insert(_after_line(edits.text, entity.end_mark.index), line)
    if not addition.fields:
        return
    fields = _get(table, "fields")
    if isinstance(fields, yaml.MappingNode):
        column = _key_column(fields, inner + 2)
        edits.add_entries(
            fields,
            [_line(column, e.key, e.value, e.comment) for e in addition.fields],
            [f"{flow(e.key)}: {flow(e.value)}" for e in addition.fields],
        )
    elif fields is None or _is_empty(fields):
        lines = "".join(_line(inner + 2, e.key, e.value, e.comment) for e in addition.fields)
        if fields is None:
            flows = [f"fields: {flow({e.key: e.value for e in addition.fields})}"]
            edits.add_entries(table, [_line(inner, "fields", None) + lines], flows)
        else:
            edits.fill_empty(fields, lines)
    else:
        raise ValueError(f"`fields` of {addition.table!r} is not a mapping")
