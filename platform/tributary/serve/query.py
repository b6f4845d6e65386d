"""A dataset request's query string as SQL: every name checked against the dataset's declared
fields and quoted by ``ident``, every value typed by its field and bound as a parameter.

Pure functions, tested as such; the server only runs what they return.
"""

from __future__ import annotations

import base64
import binascii
import json
import re
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal, InvalidOperation

from tributary.contracts.api import ApiField, Dataset, PageSize
from tributary.identifiers import ident

RESERVED = ("fields", "sort", "limit", "cursor", "format")
OPERATORS = {"eq": "=", "gte": ">=", "lte": "<=", "like": "like", "in": "in"}
_KEY = re.compile(r"^([a-z][a-z0-9_]{0,62})(?:\[([a-z]+)\])?$")
MAX_VALUE = 1000  # characters of one filter value
MAX_IN = 100  # values of one `in` filter


class QueryError(ValueError):
    """A request the dataset cannot answer: the status, a title and what to change."""

    def __init__(self, status: int, title: str, detail: str):
        super().__init__(detail)
        self.status, self.title, self.detail = status, title, detail


def _bad(detail: str) -> QueryError:
    return QueryError(400, "Bad query", detail)


@dataclass(frozen=True)
class Query:
    fields: tuple[str, ...]
    filters: tuple[tuple[str, str, object], ...]  # field, operator, typed value (a list for in)
    sort: str
    descending: bool
    limit: int
    after: tuple | None  # the last row's (sort value, id) of the previous page
    version: str | None  # the snapshot the previous page came from (its published_at)
    format: str


def convert(field: ApiField, text: str) -> object:
    """``text`` as a value of the field's type, or QueryError."""
    kind = field.data_type.split("(")[0]
    if len(text) > MAX_VALUE:
        raise _bad(f"{field.name}: a value of {len(text)} characters; at most {MAX_VALUE}")
    try:
        if kind in ("bigint", "integer"):
            if not re.fullmatch(r"-?[0-9]{1,18}", text):
                raise ValueError
            return int(text)
        if kind == "decimal":
            value = Decimal(text)
            if not value.is_finite():
                raise ValueError
            return value
        if kind == "double":
            return float(text)
        if kind == "date":
            return date.fromisoformat(text)
        if kind == "timestamp":
            return datetime.fromisoformat(text)
        if kind == "boolean":
            return {"true": True, "false": False}[text]
    except (ValueError, KeyError, InvalidOperation):
        raise _bad(f"{field.name}: {text!r} is not a {field.data_type}") from None
    return text


def _field(dataset: Dataset, name: str, allowed: tuple[str, ...] | None, what: str) -> ApiField:
    if name not in dataset.fields or (allowed is not None and name not in allowed):
        choices = ", ".join(allowed if allowed is not None else dataset.fields)
        raise _bad(f"cannot {what} on {name!r} in {dataset.name}: one of {choices}")
    return dataset.fields[name]


def _filter(dataset: Dataset, key: str, value: str) -> tuple[str, str, object]:
    match = _KEY.match(key)
    if not match:
        raise _bad(f"unknown parameter {key[:80]!r}: a field, field[op] or one of {RESERVED}")
    name, operator = match.group(1), match.group(2) or "eq"
    if operator not in OPERATORS:
        raise _bad(f"{name}: unknown operator {operator!r}: one of {', '.join(OPERATORS)}")
    field = _field(dataset, name, dataset.filter, "filter")
    if operator == "like" and not field.data_type.startswith("varchar"):
        raise _bad(f"{name}: `like` is for text fields; this is a {field.data_type}")
    if operator == "in":
        values = value.split(",")
        if len(values) > MAX_IN:
            raise _bad(f"{name}[in]: {len(values)} values; at most {MAX_IN}")
        return name, operator, [convert(field, v) for v in values]
    return name, operator, convert(field, value)


def parse_query(dataset: Dataset, items: list[tuple[str, str]], page: PageSize) -> Query:
    """The request's parameters (in order, repeats kept) as a Query, or QueryError."""
    given: dict[str, str] = {}
    filters = []
    for key, value in items:
        if key in RESERVED:
            if key in given:
                raise _bad(f"`{key}` given twice")
            given[key] = value
        else:
            filters.append(_filter(dataset, key, value))
    fields = tuple(dict.fromkeys(given["fields"].split(","))) if "fields" in given else None
    for name in fields or ():
        _field(dataset, name, None, "select")
    sort = given.get("sort", dataset.id)
    descending = sort.startswith("-")
    sort = sort.removeprefix("-")
    _field(dataset, sort, dataset.sort, "sort")
    limit = given.get("limit", str(page.default))
    if not re.fullmatch(r"[0-9]{1,6}", limit) or not 1 <= int(limit) <= page.max:
        raise QueryError(
            400, "Page too large", f"limit must be 1 to {page.max}, not {limit[:20]!r}"
        )
    fmt = given.get("format", "json")
    if fmt not in ("json", "csv"):
        raise _bad(f"format {fmt[:20]!r}: json or csv")
    after, version = None, None
    if "cursor" in given:
        order = given.get("sort", dataset.id)
        *after, version = decode_cursor(dataset, order, given["cursor"])
        after = tuple(after)
    return Query(fields or tuple(dataset.fields), tuple(filters), sort, descending, int(limit),
                 after, version, fmt)  # fmt: skip


def encode_cursor(sort_value: object, id_value: object, version: str = "", order: str = "") -> str:
    """The position after a row (its sort value and id, as text) in the snapshot published at
    ``version``, sorted by ``order`` (the request's `sort`): opaque to callers."""
    parts = (sort_value, id_value, version, order)
    text = json.dumps([None if v is None else str(v) for v in parts])
    return base64.urlsafe_b64encode(text.encode()).decode().rstrip("=")


def decode_cursor(dataset: Dataset, order: str, cursor: str) -> tuple:
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4))
        sort_text, id_text, version, made_for = json.loads(raw)
        if id_text is None or not all(isinstance(v, str | None) for v in (sort_text, id_text)):
            raise ValueError
    except (ValueError, TypeError, binascii.Error):
        raise _bad("cursor: not one this API gave; start again without it") from None
    if not isinstance(version, str) or made_for != order:
        raise _bad(f"cursor: made for sort={str(made_for)[:40]}, not sort={order[:40]}; "
                   "keep the query of the page it came from")  # fmt: skip
    sort = order.removeprefix("-")
    sort_value = None if sort_text is None else convert(dataset.fields[sort], sort_text)
    return sort_value, convert(dataset.fields[dataset.id], id_text), version


def _conditions(filters) -> tuple[list[str], list[object]]:
    conditions, params = [], []
    for name, operator, value in filters:
        if operator == "in":
            conditions.append(f"{ident(name)} in ({', '.join('?' * len(value))})")
            params += value
        else:
            conditions.append(f"{ident(name)} {OPERATORS[operator]} ?")
            params.append(value)
    return conditions, params


def _where(dataset: Dataset, query: Query) -> tuple[list[str], list[object]]:
    conditions, params = _conditions(query.filters)
    if query.after is not None:
        sort, key = ident(query.sort), ident(dataset.id)
        sort_value, id_value = query.after
        if query.sort == dataset.id:
            conditions.append(f"{key} {'<' if query.descending else '>'} ?")
            params.append(id_value)
        elif sort_value is None:  # nulls come last: only the null rows after this id remain
            conditions.append(f"({sort} is null and {key} > ?)")
            params.append(id_value)
        else:
            beyond = "<" if query.descending else ">"
            conditions.append(
                f"({sort} {beyond} ? or ({sort} = ? and {key} > ?) or {sort} is null)"
            )
            params += [sort_value, sort_value, id_value]
    return conditions, params


def page_sql(dataset: Dataset, query: Query, relation: str) -> tuple[str, list[object]]:
    """One page (and one row more, to know whether another follows) of ``relation``."""
    columns = list(dict.fromkeys([*query.fields, query.sort, dataset.id]))
    conditions, params = _where(dataset, query)
    direction = "desc" if query.descending else "asc"
    order = f"{ident(query.sort)} {direction} nulls last"
    if query.sort != dataset.id:
        order += f", {ident(dataset.id)} asc"
    sql = (
        f"select {', '.join(map(ident, columns))} from {relation}"
        + (f" where {' and '.join(conditions)}" if conditions else "")
        + f" order by {order} limit ?"
    )
    return sql, [*params, query.limit + 1]


def row_sql(dataset: Dataset, relation: str, key: object, filters=()) -> tuple[str, list[object]]:
    """The row with id ``key``, if it also meets ``filters`` (a grant's row filter)."""
    conditions, params = _conditions([(dataset.id, "eq", key), *filters])
    columns = ", ".join(map(ident, dataset.fields))
    return f"select {columns} from {relation} where {' and '.join(conditions)}", params


def row_filters(
    dataset: Dataset, rows: dict[str, list[str]]
) -> tuple[tuple[str, str, object], ...]:
    """A grant's row filter (field → the values its rows may have) as typed `in` filters."""
    return tuple(
        (name, "in", [convert(dataset.fields[name], v) for v in values])
        for name, values in sorted(rows.items())
    )
