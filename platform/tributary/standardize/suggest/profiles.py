"""Profiles: what a raw column's values look like — its DuckDB type and the share of its values
that parse as dates (in which formats), ISO timestamps, e-mails, phones, money text or ids,
the currency its amounts are written in and the width of its ids' digits."""

from __future__ import annotations

import re
import unicodedata
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

DATE_FORMATS = (
    "%Y-%m-%d",
    "%Y/%m/%d",
    "%Y年%m月%d日",
    "%d/%m/%Y",
    "%m/%d/%Y",
    "%d.%m.%Y",
    "%Y.%m.%d",
    "%d-%m-%Y",
    "%Y%m%d",
)
_ISO_TIMESTAMP = re.compile(
    r"^\d{4}-\d{2}-\d{2}[T ]\d{1,2}:\d{2}(:\d{2}([.,]\d+)?)? ?([zZ]|[+-]\d{2}(:?\d{2})?)?$"
)
_EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s.]+$")
_PHONE = re.compile(r"^(\+|00)?[\d\s\-().]{7,}$")
# S00017, u17, INV-000123, SO-2024-000123, a UUID; digits alone only with a leading zero.
_ID = re.compile(r"^[A-Za-z]{1,5}[-_]?\d+([-_]\d+)*$|^0\d+$|^[0-9a-fA-F]{8}(-[0-9a-fA-F]{4}){3}-")
_INTEGER = re.compile(r"^[-+]?\d+$")
_US_NUMBER = re.compile(r"^[-+]?\(?(\d{1,3}(,\d{3})+|\d+)(\.\d+)?\)?$")
_EU_NUMBER = re.compile(r"^[-+]?\(?(\d{1,3}(\.\d{3})+|\d+)(,\d+)?\)?$")
SYMBOLS = {"¥": "CNY", "元": "CNY", "$": "USD", "€": "EUR", "£": "GBP", "₩": "KRW", "₹": "INR"}
# Currency words in headers and values; `元`/`人民币` are the yuan as Chinese headers write it.
CURRENCY_WORDS = {
    "cny": "CNY", "rmb": "CNY", "usd": "USD", "eur": "EUR", "gbp": "GBP", "jpy": "JPY",
    "hkd": "HKD", "twd": "TWD", "krw": "KRW", "sgd": "SGD", "inr": "INR", "chf": "CHF",
    "元": "CNY", "人民币": "CNY", "美元": "USD", "欧元": "EUR", "英镑": "GBP", "日元": "JPY",
    "港币": "HKD",
}  # fmt: skip
_CURRENCY_IN_TEXT = re.compile(
    r"\b(" + "|".join(k for k in CURRENCY_WORDS if k.isascii()) + r")\b", re.I
)
_BOOLEANS = {"true", "false", "t", "f", "yes", "no", "y", "n", "0", "1", "是", "否", "真", "假"}


def column_kind(db_type: str) -> str:
    """The broad kind of a DuckDB type: text, integer, decimal, date, timestamp, boolean, other."""
    t = db_type.upper()
    if t.startswith(("VARCHAR", "TEXT", "STRING", "CHAR")):
        return "text"
    if t.startswith("TIMESTAMP") or t == "DATETIME":
        return "timestamp"
    if t == "DATE":
        return "date"
    if t == "BOOLEAN":
        return "boolean"
    if t.startswith(("DECIMAL", "NUMERIC", "DOUBLE", "FLOAT", "REAL")):
        return "decimal"
    if re.match(r"^U?(TINY|SMALL|BIG|HUGE)?INT(EGER)?\d*$", t):
        return "integer"
    return "other"


def clean(value: str) -> str:
    """As the staging models read text: full-width forms half-width, spaces trimmed."""
    return unicodedata.normalize("NFKC", value).strip()


def percent(share: float) -> str:
    return f"{share:.0%}"


def _number_text(value: str) -> str:
    """The number in money text: currency symbols, codes and spaces removed."""
    value = _CURRENCY_IN_TEXT.sub("", value)
    return re.sub(r"[\s¥$€£₩₹元]", "", value)


def _date_parses(value: str, fmt: str) -> bool:
    try:
        return 1900 <= datetime.strptime(value, fmt).year <= 2100
    except ValueError:
        return False


def detect_date_formats(values: list[str]) -> tuple[tuple[str, ...], float]:
    """The strptime formats that read the values (most first, at most three) and the share read.

    ``05/03/2024`` reads as day first and month first alike: the order of DATE_FORMATS (day
    first, as Chinese and European systems write it) breaks the tie, unless a value such as
    ``13/03/2024`` decides it.
    """
    if not values:
        return (), 0.0
    parsed = {fmt: {v for v in values if _date_parses(v, fmt)} for fmt in DATE_FORMATS}
    chosen: list[str] = []
    covered: set[str] = set()
    while len(chosen) < 3:
        fmt = max(DATE_FORMATS, key=lambda f: (len(parsed[f] - covered), -DATE_FORMATS.index(f)))
        gain = len(parsed[fmt] - covered)
        if gain == 0 or (chosen and gain < 0.05 * len(values)):
            break
        chosen.append(fmt)
        covered |= parsed[fmt]
    return tuple(chosen), len(covered) / len(values)


@dataclass(frozen=True)
class ColumnProfile:
    """What one raw column holds. Shares are over the sampled distinct non-null values."""

    name: str
    db_type: str = "VARCHAR"
    rows: int = 0
    nulls: int = 0
    distinct: int = 0
    sample: tuple[str, ...] = ()
    shares: dict[str, float] = field(default_factory=dict)
    date_formats: tuple[str, ...] = ()
    currency: str | None = None  # from symbols or codes in the values
    digits: int | None = None  # width of the digit run when every id-like value has the same

    @property
    def kind(self) -> str:
        return column_kind(self.db_type)

    @property
    def non_null(self) -> int:
        return self.rows - self.nulls

    @property
    def null_share(self) -> float:
        return self.nulls / self.rows if self.rows else 0.0

    @property
    def unique(self) -> bool:
        return self.non_null > 1 and self.distinct >= 0.98 * self.non_null

    def share(self, pattern: str) -> float:
        return self.shares.get(pattern, 0.0)


def _is_phone(value: str) -> bool:
    return (
        bool(_PHONE.match(value))
        and 8 <= sum(c.isdigit() for c in value) <= 15
        and not re.match(r"^\d{4}[-/.]\d{1,2}[-/.]\d{1,2}$", value)
        and (not value.isdigit() or len(value) >= 10)
    )


def _has_currency(value: str) -> bool:
    return any(s in value for s in SYMBOLS) or bool(_CURRENCY_IN_TEXT.search(value))


# The shapes a text value can have, each with its test (dates are read by detect_date_formats).
SHAPES: dict[str, Callable[[str], Any]] = {
    "timestamp": _ISO_TIMESTAMP.match,
    "email": _EMAIL.match,
    "integer": _INTEGER.match,
    "boolean": lambda v: v.lower() in _BOOLEANS,
    "phone": _is_phone,
}


def _number_shares(texts: list[str], n: int) -> dict[str, float]:
    """Shares of numbers, and of those only US (1,234.50) or only European (1.234,50) read."""
    numbers = [_number_text(v) for v in texts]
    us = [bool(_US_NUMBER.match(v)) for v in numbers]
    eu = [bool(_EU_NUMBER.match(v)) for v in numbers]
    return {
        "number": sum(a or b for a, b in zip(us, eu, strict=True)) / n,
        "us_decimal": sum(a and not b for a, b in zip(us, eu, strict=True)) / n,
        "eu_decimal": sum(b and not a for a, b in zip(us, eu, strict=True)) / n,
        "fraction": sum(1 for v in numbers if re.search(r"[.,]\d{1,2}\)?$", v)) / n,
    }


def _epoch_shares(texts: list[str], n: int) -> dict[str, float]:
    """Shares of whole numbers that are plausible epoch seconds or milliseconds."""
    as_int = [int(v) for v in texts if _INTEGER.match(v)]
    return {
        "epoch_s": sum(1 for v in as_int if 10**9 <= v < 4 * 10**9) / n,
        "epoch_ms": sum(1 for v in as_int if 10**12 <= v < 4 * 10**12) / n,
    }


def _currency(texts: list[str], n: int) -> str | None:
    """The currency most values are written in, by symbol or code, if at least 30% say one."""
    found = Counter(
        code
        for v in texts
        for code in [next((c for s, c in SYMBOLS.items() if s in v), None)]
        + [CURRENCY_WORDS.get(m.lower()) for m in _CURRENCY_IN_TEXT.findall(v)]
        if code
    )
    return found.most_common(1)[0][0] if found and sum(found.values()) >= 0.3 * n else None


def _digit_width(ids: list[str]) -> int | None:
    """The width of the ids' trailing digits, when every id has the same."""
    widths = {len(m.group()) for v in ids for m in [re.search(r"\d+$", v)] if m}
    return widths.pop() if len(widths) == 1 else None


def profile_values(
    name: str,
    db_type: str,
    values: list[Any],
    rows: int | None = None,
    nulls: int = 0,
    distinct: int | None = None,
) -> ColumnProfile:
    """A column's profile from a sample of its distinct non-null values (any type, read as text).

    Without counts (hand-made profiles in tests) the sample is taken as the whole column.
    """
    sample = tuple(dict.fromkeys(clean(str(v)) for v in values if v is not None))
    texts = [v for v in sample if v]
    n = len(texts) or 1
    kind = column_kind(db_type)
    formats, date_share = detect_date_formats(texts) if kind == "text" else ((), 0.0)
    shares = {"date": date_share}
    shares |= {shape: sum(1 for v in texts if test(v)) / n for shape, test in SHAPES.items()}
    shares |= _number_shares(texts, n)
    shares["symbol"] = sum(1 for v in texts if _has_currency(v)) / n
    ids = [v for v in texts if _ID.match(v)]
    shares["id"] = len(ids) / n
    if kind == "integer":
        shares |= _epoch_shares(texts, n)
    return ColumnProfile(
        name=name,
        db_type=db_type,
        rows=len(texts) + nulls if rows is None else rows,
        nulls=nulls,
        distinct=len(texts) if distinct is None else distinct,
        sample=sample,
        shares=shares,
        date_formats=formats,
        currency=_currency(texts, n),
        digits=_digit_width(ids),
    )
