"""Value evidence: how well a column's profile fits a canonical field's type, how distinctive
that fit is, and the conversion options (formats, currency, decimal mark, case) the values show.

How well the values fit is one number in [0, 1]; how *distinctive* the fit is (a column of
``M``/``F``/``男``/``女`` can only be a gender) decides how far values alone can carry a
suggestion whose name says nothing.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

from tributary.contracts.dictionary import CanonicalField, Entity
from tributary.standardize.suggest.names import normalize_name
from tributary.standardize.suggest.profiles import ColumnProfile, clean, percent

Fit = tuple[float, str]  # how well, in [0, 1], and why


def _code_key(value: str) -> str:
    return clean(value).casefold()


def code_match(profile: ColumnProfile, canonical: CanonicalField) -> float:
    """Share of the column's distinct values that a code field accepts (case and spaces aside)."""
    if not profile.sample or not canonical.codes:
        return 0.0
    accepted = {_code_key(k) for k in canonical.codes} | {
        _code_key(c) for c in canonical.canonical_codes()
    }
    values = [v for v in profile.sample if v]
    return sum(1 for v in values if _code_key(v) in accepted) / max(len(values), 1)


def _format_width(fmt: str | None) -> int | None:
    match = re.search(r"%0(\d+)d", fmt or "")
    return int(match.group(1)) if match else None


# --- the detectors: each a field type's reading of a column ---------------------------------

# A column whose own type settles the fit for a field type, whatever its values:
# {field type: {column kind: (fit, why)}}; "{db_type}" is the column's type.
FIT_BY_KIND: dict[str, dict[str, Fit]] = {
    "date": {"date": (1.0, "DATE column"), "timestamp": (0.5, "a timestamp, not a date")},
    "timestamp": {
        "timestamp": (1.0, "{db_type} column"),
        "date": (0.5, "a date, not a timestamp"),
    },
    "money": {"decimal": (0.9, "{db_type} column"), "integer": (0.5, "whole numbers")},
    "decimal": {"decimal": (1.0, "{db_type} column"), "integer": (0.5, "whole numbers")},
    "integer": {"integer": (1.0, "{db_type} column"), "decimal": (0.4, "decimals")},
    "boolean": {"boolean": (1.0, "BOOLEAN column")},
}

# How a date or timestamp field reads a text column: the shares that count, in order, each
# with its weight and why ("{share}" its percentage, "{formats}" the date formats found).
TEXT_READINGS: dict[str, tuple[tuple[str, float, str], ...]] = {
    "date": (
        ("date", 1.0, "{share} parse as {formats}"),
        ("timestamp", 0.6, "{share} ISO timestamps"),
    ),
    "timestamp": (
        ("timestamp", 1.0, "{share} ISO timestamps"),
        ("date", 0.5, "{share} dates without a time"),
    ),
}
EPOCH_FIT = {"date": 0.5, "timestamp": 0.7}  # epoch numbers: a time, to the second
SHAPE_WORDS = {"email": "e-mail addresses", "phone": "phone numbers"}


def _temporal_fit(profile: ColumnProfile, canonical: CanonicalField, is_key: bool) -> Fit:
    if profile.kind == "text":
        for share, weight, why in TEXT_READINGS[canonical.type]:
            if profile.share(share) >= 0.5:
                formats = ", ".join(profile.date_formats)
                text = why.format(share=percent(profile.share(share)), formats=formats)
                return weight * profile.share(share), text
    if (
        profile.kind == "integer"
        and max(profile.share("epoch_s"), profile.share("epoch_ms")) >= 0.9
    ):
        return EPOCH_FIT[canonical.type], "epoch numbers"
    return 0.0, f"not {canonical.type}s"


def _shape_fit(profile: ColumnProfile, canonical: CanonicalField, is_key: bool) -> Fit:
    """E-mails and phones: the share of values of that shape."""
    fit = profile.share(canonical.type) if profile.kind == "text" else 0.0
    return fit, f"{percent(fit)} {SHAPE_WORDS[canonical.type]}"


def _money_fit(profile: ColumnProfile, canonical: CanonicalField, is_key: bool) -> Fit:
    number = profile.share("number")
    if profile.kind == "text" and number >= 0.5:
        written = profile.share("symbol") or profile.share("fraction") >= 0.5
        return number * (1.0 if written else 0.8), f"{percent(number)} money text"
    return 0.0, "not amounts"


def _decimal_fit(profile: ColumnProfile, canonical: CanonicalField, is_key: bool) -> Fit:
    number = profile.share("number")
    if profile.kind == "text" and number >= 0.5:
        frac = profile.share("fraction") >= 0.5 or any(
            len(v.split(".")[-1]) > 2 for v in profile.sample
        )
        return number * (1.0 if frac else 0.7), f"{percent(number)} numbers as text"
    return 0.0, "not numbers"


def _integer_fit(profile: ColumnProfile, canonical: CanonicalField, is_key: bool) -> Fit:
    if profile.kind == "text":
        whole = profile.share("integer")
        return 0.85 * whole, f"{percent(whole)} whole numbers as text"
    return 0.0, "not whole numbers"


def _boolean_fit(profile: ColumnProfile, canonical: CanonicalField, is_key: bool) -> Fit:
    if profile.kind == "integer" and profile.distinct <= 2:
        return 0.6, "two values"
    return profile.share("boolean"), f"{percent(profile.share('boolean'))} yes/no values"


def _code_fit(profile: ColumnProfile, canonical: CanonicalField, is_key: bool) -> Fit:
    matched = code_match(profile, canonical)
    if matched >= 0.5:
        shown = ", ".join(sorted(profile.sample)[:6])
        return matched, f"{percent(matched)} of its values ({shown}) are codes the field accepts"
    if profile.distinct <= 12 or profile.distinct <= 0.05 * profile.non_null:
        return 0.4, f"a small set of {profile.distinct} values"
    return 0.1, "too many distinct values for a code"


def _id_like_fit(profile: ColumnProfile, canonical: CanonicalField) -> Fit | None:
    """Ids by their values alone (None: not ids); a key's uniqueness is judged after."""
    s = profile.share
    if profile.kind == "integer":
        return 0.75, "whole numbers"
    if profile.kind == "text" and s("id") >= 0.5:
        fit, why = 0.9 * s("id"), f"{percent(s('id'))} id-like ({profile.sample[0]})"
        width = _format_width(canonical.format)
        if width and profile.digits == width:
            fit, why = min(1.0, fit + 0.1), why + f", {width} digits as {canonical.format}"
        return fit, why
    if profile.kind == "text" and max(s("email"), s("date"), s("phone")) < 0.5:
        return 0.35, "text"
    return None


def _id_fit(profile: ColumnProfile, canonical: CanonicalField, is_key: bool) -> Fit:
    found = _id_like_fit(profile, canonical)
    if found is None:
        return 0.0, "not ids"
    fit, why = found
    if is_key:
        fit, why = (fit, why + ", unique") if profile.unique else (fit * 0.6, why + ", repeats")
    return fit, why


def _string_fit(profile: ColumnProfile, canonical: CanonicalField, is_key: bool) -> Fit:
    if profile.kind != "text":
        return 0.2, f"{profile.db_type}, not text"
    s = profile.share
    shaped = max(s("email"), s("date"), s("timestamp"), s("phone"), s("number"))
    if shaped >= 0.8:
        return 0.35, "values have a shape (number, date, e-mail or phone)"
    if s("id") >= 0.8:
        return 0.6, "id-like text"
    return 0.8, "text"


FIT_BY_TYPE: dict[str, Callable[[ColumnProfile, CanonicalField, bool], Fit]] = {
    "date": _temporal_fit,
    "timestamp": _temporal_fit,
    "email": _shape_fit,
    "phone": _shape_fit,
    "money": _money_fit,
    "decimal": _decimal_fit,
    "integer": _integer_fit,
    "boolean": _boolean_fit,
    "code": _code_fit,
    "id": _id_fit,
    "string": _string_fit,
}
NUMERIC_TYPES = ("money", "decimal", "integer")


def _shaped_not_number(profile: ColumnProfile) -> Fit | None:
    """Text that is dates or phones is no number, however it parses."""
    if profile.share("date") >= 0.8:
        return 0.0, "dates, not numbers"
    if profile.share("phone") >= 0.8:
        return 0.1, "phone numbers, not amounts"
    return None


def value_fit(profile: ColumnProfile, canonical: CanonicalField, is_key: bool = False) -> Fit:
    """How well the column's type and values fit the field's type, in [0, 1], and why."""
    if not profile.sample:
        return 0.5, "no values yet"
    t = canonical.type
    by_kind = FIT_BY_KIND.get(t, {}).get(profile.kind)
    if by_kind is not None:
        return by_kind[0], by_kind[1].format(db_type=profile.db_type)
    if t in NUMERIC_TYPES and profile.kind == "text":
        misfit = _shaped_not_number(profile)
        if misfit is not None:
            return misfit
    return FIT_BY_TYPE[t](profile, canonical, is_key)


# How far values alone can carry a suggestion, by field type: a column of gender codes can only
# be a gender; a column of text could be any string field. Shared among an entity's fields of
# the same type (two date fields halve what a date column alone says).
SPECIFICITY = {
    "code": 0.2, "email": 0.75, "phone": 0.75, "boolean": 0.5, "date": 0.6, "timestamp": 0.6,
    "money": 0.45, "decimal": 0.35, "integer": 0.2, "id": 0.3, "string": 0.1,
}  # fmt: skip
MATCHED_CODES_SPECIFICITY = 0.85


def specificity(entity: Entity, field_name: str, profile: ColumnProfile) -> float:
    canonical = entity.fields[field_name]
    if (
        canonical.type == "code"
        and code_match(profile, canonical) >= 0.8
        and len(profile.sample) > 1
    ):
        return MATCHED_CODES_SPECIFICITY
    same = sum(1 for f in entity.fields.values() if f.type == canonical.type)
    base = SPECIFICITY[canonical.type]
    if canonical.type == "id" and field_name in entity.keys and len(entity.keys) == 1:
        base = 0.45 if profile.unique else base
    return base / same


# --- conversion options ---------------------------------------------------------------------


def _date_formats(profile: ColumnProfile, t: str) -> dict[str, Any]:
    """The formats a date or timestamp field reads the column with (epochs included)."""
    options: dict[str, Any] = {}
    if profile.kind == "text" and profile.date_formats and profile.share("date") >= 0.5:
        if t == "date" or profile.share("timestamp") < 0.5:
            options["formats"] = list(profile.date_formats)
    elif profile.kind == "integer":
        for epoch in ("epoch_ms", "epoch_s"):
            if profile.share(epoch) >= 0.9:
                options["formats"] = [epoch]
    return options


def _currency(profile: ColumnProfile) -> tuple[dict[str, Any], str, str]:
    """A money field's currency from the header or the values: (options, problem, why)."""
    unit = normalize_name(profile.name).unit
    currency = unit or profile.currency
    if not currency:
        return {}, "no currency in the header or the values: add `currency: <ISO code>`", ""
    why = f"header says {unit}" if unit else f"amounts written in {currency}"
    return {"currency": currency}, "", why


def _upper_case(profile: ColumnProfile) -> bool:
    """Short codes in mixed case, mostly upper: read as upper case."""
    letters = [v for v in profile.sample if v.isalpha() and len(v) <= 5]
    return (
        len(letters) == len(profile.sample)
        and any(v != v.upper() for v in letters)
        and sum(v == v.upper() for v in letters) >= len(letters) / 2
    )


def conversion_options(
    profile: ColumnProfile, canonical: CanonicalField
) -> tuple[dict[str, Any], str, str]:
    """The FieldMap options the values show (formats, currency, decimal mark, case), a problem
    that keeps the suggestion from being written as it is, and why."""
    t, kind = canonical.type, profile.kind
    options = _date_formats(profile, t) if t in ("date", "timestamp") else {}
    problem, why = "", []
    if t == "money":
        currency, problem, said = _currency(profile)
        options |= currency
        why += [said] if said else []
    if t in NUMERIC_TYPES and kind == "text":
        if profile.share("eu_decimal") > max(0.3, profile.share("us_decimal")):
            options["decimal_mark"] = ","
            why.append(f"{percent(profile.share('eu_decimal'))} written 1.234,50")
    if t in ("string", "id") and kind == "text" and profile.sample and _upper_case(profile):
        options["case"] = "upper"
        why.append("short codes in mixed case")
    return options, problem, "; ".join(why)
