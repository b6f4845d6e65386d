"""Declared column types (``columns:`` then ``total: decimal(10,2)``) on a REST resource or a
SQL table.

What a source sends does not always say what a value is: JSON has only floating-point numbers,
so a REST ``numeric(10,2)`` total lands as DOUBLE and its sums drift (2328.600000000004); a
query's columns are typed by whatever the driver guesses. A declared type becomes dlt's column
hint, so the raw table holds the exact type from the first load on.
"""

import re
from typing import Annotated, Any

from pydantic import AfterValidator, BeforeValidator, Field

# Type name -> dlt's data_type. `decimal` alone is dlt's default precision (38, 9).
COLUMN_TYPES = {
    "text": "text",
    "bigint": "bigint",
    "integer": "bigint",
    "double": "double",
    "bool": "bool",
    "boolean": "bool",
    "date": "date",
    "time": "time",
    "timestamp": "timestamp",
    "json": "json",
    "binary": "binary",
    "decimal": "decimal",
}
_TYPE = re.compile(r"^\s*([a-z]+)\s*(?:\(\s*(\d+)\s*,\s*(\d+)\s*\))?\s*$")
PATTERN = r"^\s*(" + "|".join(COLUMN_TYPES) + r")\s*(\(\s*\d+\s*,\s*\d+\s*\))?\s*$"


def column_hint(text: str) -> dict[str, Any]:
    """dlt's column hint for a declared type: ``decimal(10,2)`` → decimal, precision, scale."""
    match = _TYPE.match(text.lower())
    if match is None or match[1] not in COLUMN_TYPES:
        raise ValueError(
            f"unknown column type {text!r}: write one of {', '.join(COLUMN_TYPES)}, or "
            "decimal(precision,scale) such as decimal(10,2)"
        )
    name, precision, scale = match[1], match[2], match[3]
    if precision is None:
        return {"data_type": COLUMN_TYPES[name]}
    if name != "decimal":
        raise ValueError(f"{name} takes no (precision,scale): only decimal does")
    if not 1 <= int(precision) <= 38 or int(scale) > int(precision):
        raise ValueError(
            f"decimal({precision},{scale}): precision is 1 to 38 digits and the scale (digits "
            "after the point) at most the precision"
        )
    return {"data_type": "decimal", "precision": int(precision), "scale": int(scale)}


def _checked(value: Any) -> Any:
    """A declared type, checked; a dict is dlt's own column hint (REST only), left to dlt."""
    if isinstance(value, str):
        column_hint(value)
    elif not isinstance(value, dict):
        raise ValueError("give a type, e.g. decimal(10,2), text or bigint")
    return value


def _not_split(value: Any) -> Any:
    """YAML's ``{total: decimal(10,2)}`` is ``{total: "decimal(10", "2)": null}``: say so."""
    if isinstance(value, dict) and any(
        v is None and re.fullmatch(r"\s*\d+\s*\)\s*", str(k)) for k, v in value.items()
    ):
        raise ValueError(
            "YAML split a type at its comma: inside { } quote it, e.g. "
            '{total: "decimal(10,2)"}, or write one column per line'
        )
    return value


_TYPE_SCHEMA = {"type": "string", "pattern": PATTERN}
ColumnType = Annotated[str, AfterValidator(_checked), Field(json_schema_extra=_TYPE_SCHEMA)]
Columns = Annotated[dict[str, ColumnType], BeforeValidator(_not_split)]
# On a REST resource a column may also take dlt's own hint ({data_type: …, precision: …}).
_HINT_SCHEMA = {"anyOf": [_TYPE_SCHEMA, {"type": "object"}]}
RestColumnType = Annotated[Any, AfterValidator(_checked), Field(json_schema_extra=_HINT_SCHEMA)]
RestColumns = Annotated[dict[str, RestColumnType], BeforeValidator(_not_split)]
COLUMNS_DESCRIPTION = (
    "Column types to load as, whatever the source sends, one per line: `total: decimal(10,2)` "
    "(also text, bigint, double, bool, date, time, timestamp, json, binary). In flow style "
    'quote the type: `{total: "decimal(10,2)"}`.'
)


def declared_hints(columns: dict[str, Any] | None) -> dict[str, dict[str, Any]]:
    """dlt's column hints for declared columns (a hint dlt's own way is kept as it is)."""
    return {
        name: {"name": name, **(column_hint(v) if isinstance(v, str) else v)}
        for name, v in (columns or {}).items()
    }
