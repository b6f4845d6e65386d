"""Mapping suggestions (``tributary map suggest <source>``): which raw column feeds which field
of the data dictionary, guessed from names, synonyms, types and what the values look like.

Each (column, canonical field) pair gets two kinds of evidence:

* **name** — the column's name against the field's name and synonyms, after normalizing both
  (``staffID`` → ``staff_id``, units such as ``(USD)`` or ``_cny`` set aside, common
  abbreviations expanded). Exact name or synonym is strong; shared words or a close spelling
  are weaker. Chinese headers are compared with Chinese synonyms character by character, and
  word by word with English names through a small glossary (``客户编号`` → customer, no).
* **values** — a profile of the column in the warehouse: its DuckDB type and the share of its
  values that parse as dates (in which formats), ISO timestamps, e-mails, phones, money text,
  ids, or the codes a code field accepts. How well that fits the field's type is one number;
  how *distinctive* the fit is (a column of ``M``/``F``/``男``/``女`` can only be a gender)
  decides how far values alone can carry a suggestion whose name says nothing.

They combine into a confidence in [0, 1]: what the name says, discounted when the values do
not fit (``name × (0.4 + 0.6 × fit)``), and what the values alone say (``fit × specificity``),
taken as independent evidence (``1 − (1 − a)(1 − b)``). A table's entity is the existing
mapping's, or the entity whose fields its columns fit best; then each canonical field takes at
most one column, greedily by confidence. Everything here is a plain function of profiles and
the dictionary, so it is tested without a warehouse; ``profile_table`` and ``suggest_source``
do the reading, ``accepted`` and ``write_mapping`` the writing (text edits: ``mapping_edit``).
"""

from __future__ import annotations

import difflib
import re
import unicodedata
from collections import Counter
from dataclasses import dataclass, field, replace
from datetime import datetime
from pathlib import Path
from typing import Any

import duckdb
import yaml
from pydantic import ValidationError

from tributary.contracts.dictionary import CanonicalField, Dictionary, Entity, load_dictionary
from tributary.contracts.mapping import (
    Mapping,
    TableMapping,
    check_mapping,
    mapping_path,
    raw_column,
)
from tributary.contracts.source import SourceSpec, load_specs
from tributary.contracts.specfile import SpecError, SpecErrors, load_model
from tributary.standardize.suggest.mapping_edit import (
    Entry,
    TableAddition,
    flow,
    new_file,
    with_additions,
)

# Columns the platform adds to raw tables: never a source field.
PLATFORM_COLUMNS = {"_dlt_load_id", "_dlt_id", "_file_name", "_line"}
SAMPLE_SIZE = 200  # distinct values per column the value checks look at
PROFILE_ROWS = 50_000  # larger tables are profiled on a repeatable sample of this many rows


class SuggestError(Exception):
    """A problem the user fixes before suggestions can run: printed as one line."""


# ---------------------------------------------------------------------------------------------
# Profiles: what a column's values look like
# ---------------------------------------------------------------------------------------------

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
_SYMBOLS = {"¥": "CNY", "元": "CNY", "$": "USD", "€": "EUR", "£": "GBP", "₩": "KRW", "₹": "INR"}
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


def _kind(db_type: str) -> str:
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


def _clean(value: str) -> str:
    """As the staging models read text: full-width forms half-width, spaces trimmed."""
    return unicodedata.normalize("NFKC", value).strip()


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
        return _kind(self.db_type)

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
    sample = tuple(dict.fromkeys(_clean(str(v)) for v in values if v is not None))
    texts = [v for v in sample if v]
    n = len(texts) or 1
    kind = _kind(db_type)

    def share(test) -> float:
        return sum(1 for v in texts if test(v)) / n

    formats, date_share = detect_date_formats(texts) if kind == "text" else ((), 0.0)
    shares = {
        "date": date_share,
        "timestamp": share(_ISO_TIMESTAMP.match),
        "email": share(_EMAIL.match),
        "integer": share(_INTEGER.match),
        "boolean": share(lambda v: v.lower() in _BOOLEANS),
    }
    shares["phone"] = share(
        lambda v: (
            bool(_PHONE.match(v))
            and 8 <= sum(c.isdigit() for c in v) <= 15
            and not re.match(r"^\d{4}[-/.]\d{1,2}[-/.]\d{1,2}$", v)
            and (not v.isdigit() or len(v) >= 10)
        )
    )
    numbers = [_number_text(v) for v in texts]
    us = [bool(_US_NUMBER.match(v)) for v in numbers]
    eu = [bool(_EU_NUMBER.match(v)) for v in numbers]
    shares["number"] = sum(a or b for a, b in zip(us, eu, strict=True)) / n
    shares["us_decimal"] = sum(a and not b for a, b in zip(us, eu, strict=True)) / n
    shares["eu_decimal"] = sum(b and not a for a, b in zip(us, eu, strict=True)) / n
    shares["fraction"] = sum(1 for v in numbers if re.search(r"[.,]\d{1,2}\)?$", v)) / n
    shares["symbol"] = share(
        lambda v: any(s in v for s in _SYMBOLS) or bool(_CURRENCY_IN_TEXT.search(v))
    )
    ids = [v for v in texts if _ID.match(v)]
    shares["id"] = len(ids) / n
    widths = {len(m.group()) for v in ids for m in [re.search(r"\d+$", v)] if m}
    found = Counter(
        code
        for v in texts
        for code in [next((c for s, c in _SYMBOLS.items() if s in v), None)]
        + [CURRENCY_WORDS.get(m.lower()) for m in _CURRENCY_IN_TEXT.findall(v)]
        if code
    )
    currency = found.most_common(1)[0][0] if found and sum(found.values()) >= 0.3 * n else None
    if kind == "integer":
        as_int = [int(v) for v in texts if _INTEGER.match(v)]
        shares["epoch_s"] = sum(1 for v in as_int if 10**9 <= v < 4 * 10**9) / n
        shares["epoch_ms"] = sum(1 for v in as_int if 10**12 <= v < 4 * 10**12) / n
    return ColumnProfile(
        name=name,
        db_type=db_type,
        rows=len(texts) + nulls if rows is None else rows,
        nulls=nulls,
        distinct=len(texts) if distinct is None else distinct,
        sample=sample,
        shares=shares,
        date_formats=formats,
        currency=currency,
        digits=widths.pop() if len(widths) == 1 else None,
    )


def quote_ident(name: str) -> str:
    """A DuckDB identifier, quoted: column names come from the warehouse catalog, not users."""
    return '"' + name.replace('"', '""') + '"'


def raw_tables(con: duckdb.DuckDBPyConnection, schema: str) -> set[str]:
    rows = con.execute(
        "select table_name from information_schema.tables where table_schema = ?", [schema]
    ).fetchall()
    return {r[0] for r in rows}


def profile_table(
    con: duckdb.DuckDBPyConnection, schema: str, table: str, sample_size: int = SAMPLE_SIZE
) -> list[ColumnProfile]:
    """Profiles of a raw table's source columns (the platform's own columns left out)."""
    columns = [
        (name, db_type)
        for name, db_type in con.execute(
            "select column_name, data_type from information_schema.columns "
            "where table_schema = ? and table_name = ? order by ordinal_position",
            [schema, table],
        ).fetchall()
        if name not in PLATFORM_COLUMNS and not name.startswith("_dlt_")
    ]
    if not columns:
        return []
    source = f"{quote_ident(schema)}.{quote_ident(table)}"
    (total,) = con.execute(f"select count(*) from {source}").fetchone()
    if total > PROFILE_ROWS:
        source = (
            f"(select * from {source} using sample reservoir({PROFILE_ROWS} rows) repeatable (42))"
        )
    counts = con.execute(
        "select count(*), "
        + ", ".join(
            f"count({quote_ident(c)}), count(distinct {quote_ident(c)})" for c, _ in columns
        )
        + f" from {source}"
    ).fetchone()
    profiles = []
    for i, (name, db_type) in enumerate(columns):
        col = quote_ident(name)
        values = con.execute(
            f"select v from (select distinct cast({col} as varchar) as v from {source} "
            f"where {col} is not null) order by hash(v), v limit ?",
            [sample_size],
        ).fetchall()
        profiles.append(
            profile_values(
                name,
                db_type,
                [v for (v,) in values],
                rows=counts[0],
                nulls=counts[0] - counts[1 + 2 * i],
                distinct=counts[2 + 2 * i],
            )
        )
    return profiles


# ---------------------------------------------------------------------------------------------
# Name evidence
# ---------------------------------------------------------------------------------------------

_CJK = r"\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff"
# Common abbreviations in column names → the word the dictionary uses. Generic, not per system.
ABBREVIATIONS = {
    "dept": "department", "dep": "department", "emp": "employee", "empl": "employee",
    "cust": "customer", "qty": "quantity", "amt": "amount", "ccy": "currency", "cur": "currency",
    "curr": "currency", "tel": "phone", "telephone": "phone", "mobile": "phone", "cell": "phone",
    "addr": "address", "desc": "description", "prod": "product", "cat": "category",
    "mgr": "manager", "dt": "date", "day": "date", "ts": "timestamp", "mail": "email",
    "inv": "invoice", "pmt": "payment", "pay": "payment", "txn": "transaction",
    "org": "organization", "cnt": "count", "pct": "percent", "zh": "zh", "cn": "zh", "chn": "zh",
    "chinese": "zh", "nm": "name", "sal": "salary", "ord": "order", "ln": "line",
}  # fmt: skip
# Common words of Chinese headers → English words of the dictionary's names. Generic business
# vocabulary, so a header matches a field that has no Chinese synonym (`客户编号` → customer no).
GLOSSARY = {
    "编号": "no", "编码": "code", "代码": "code", "号码": "no", "单号": "no", "号": "no",
    "名称": "name", "姓名": "name", "名字": "name", "名": "name", "日期": "date",
    "时间": "time", "金额": "amount", "总额": "amount", "数量": "quantity", "单价": "unit_price",
    "价格": "price", "标价": "list_price", "订单": "order", "发票": "invoice", "开票": "invoice",
    "付款": "payment", "支付": "payment", "收款": "payment", "客户": "customer",
    "顾客": "customer", "公司": "company", "员工": "employee", "职员": "employee",
    "工号": "employee_no", "部门": "department", "产品": "product", "商品": "product",
    "类别": "category", "分类": "category", "类型": "type", "币种": "currency",
    "货币": "currency", "汇率": "rate", "美元": "usd", "电话": "phone", "手机": "phone",
    "邮箱": "email", "邮件": "email", "性别": "gender", "入职": "hire", "工资": "salary",
    "薪资": "salary", "月薪": "monthly_salary", "区域": "region", "地区": "region",
    "大区": "region", "状态": "status", "创建": "created", "更新": "updated",
    "修改": "modified", "行号": "line_no", "负责人": "owner", "销售": "sales",
    "地址": "address", "备注": "note", "中文": "zh", "英文": "en", "下单": "order",
}  # fmt: skip
# Words that all say "the identifier of": `customer_ref` and `customer_id` name the same thing.
ID_WORDS = {"id", "no", "nr", "num", "number", "nbr", "code", "ref", "key", "identifier"}
_STOP_WORDS = {"at", "of", "the", "a", "an", "is", "on"}


@dataclass(frozen=True)
class Name:
    """A column or field name, normalized for comparison."""

    text: str  # snake_case, punctuation and units gone: `金额(USD)` → `金额`
    tokens: tuple[str, ...]  # words, abbreviations expanded: `dept_code` → (department, code)
    unit: str | None  # a currency the name states: `(USD)`, `_cny`, `（元）`


def _words(cjk: str) -> list[str]:
    """A Chinese header in words, longest glossary word first; unknown characters one by one."""
    words, i = [], 0
    while i < len(cjk):
        word = next(
            (
                cjk[i : i + n]
                for n in range(min(4, len(cjk) - i), 0, -1)
                if cjk[i : i + n] in GLOSSARY
            ),
            cjk[i],
        )
        words.append(word)
        i += len(word)
    return words


def _tokens(words: list[str]) -> tuple[str, ...]:
    tokens: list[str] = []
    for word in words:
        if _is_cjk(word):
            for part in _words(word):
                tokens += GLOSSARY.get(part, part).split("_")
        elif word not in _STOP_WORDS:
            tokens.append(ABBREVIATIONS.get(word, word))
    return tuple(tokens)


def normalize_name(name: str) -> Name:
    """``staffID`` → staff_id; ``list_price_cny`` → list_price (unit CNY); ``金额(USD)`` → 金额."""
    text = unicodedata.normalize("NFKC", name).strip()
    unit = None
    bracket = re.search(r"[(\[]\s*([^)\]]*?)\s*[)\]]\s*$", text)
    if bracket:
        inside = bracket.group(1).strip().lower()
        unit = CURRENCY_WORDS.get(inside) or _SYMBOLS.get(inside)
        text = text[: bracket.start()]
    text = re.sub(r"([a-z0-9])([A-Z])", r"\1_\2", text)
    text = re.sub(r"([A-Z]+)([A-Z][a-z])", r"\1_\2", text)
    text = re.sub(rf"([{_CJK}])([A-Za-z0-9])|([A-Za-z0-9])([{_CJK}])", r"\1\3_\2\4", text)
    text = re.sub(rf"[^0-9a-z{_CJK}]+", "_", text.lower()).strip("_")
    words = text.split("_") if text else []
    while len(words) > 1 and words[-1] in CURRENCY_WORDS:
        unit = unit or CURRENCY_WORDS[words.pop()]
    return Name("_".join(words), _tokens(words), unit)


def _is_cjk(text: str) -> bool:
    return bool(re.search(rf"[{_CJK}]", text))


def _token_similarity(a: str, b: str) -> float:
    if a == b:
        return 1.0
    if a in ID_WORDS and b in ID_WORDS:
        return 0.7
    if min(len(a), len(b)) >= 3 and (a.startswith(b) or b.startswith(a)):
        return 0.6
    ratio = difflib.SequenceMatcher(None, a, b).ratio()
    return ratio * 0.8 if ratio >= 0.8 else 0.0


def _token_dice(a: tuple[str, ...], b: tuple[str, ...]) -> float:
    """How much two names share, word by word (each word's best partner counts)."""
    if not a or not b:
        return 0.0
    best_a = sum(max(_token_similarity(x, y) for y in b) for x in a)
    best_b = sum(max(_token_similarity(y, x) for x in a) for y in b)
    dice = (best_a + best_b) / (len(a) + len(b))
    # `region` for `sales_region`, `rep_name` for `name`: every word of one is in the other
    # (a bare "id" or "no" says too little to count).
    short, long_ = sorted((set(a), set(b)), key=len)
    if short < long_ and not short <= ID_WORDS:
        dice = max(dice, 0.7)
    return dice


def _cjk_similarity(a: str, b: str) -> float:
    """Chinese names: shared characters, with containment (`付款金额` holds `金额`)."""
    if not a or not b:
        return 0.0
    short, long_ = sorted((a, b), key=len)
    if short in long_:
        return 0.5 + 0.4 * len(short) / len(long_)
    common = sum((Counter(a) & Counter(b)).values())
    return 2 * common / (len(a) + len(b)) * 0.8


def name_similarity(column: Name, other: Name) -> float:
    """1 for the same normalized name; less for the same words in another order, shared words,
    a close spelling or shared Chinese characters. Chinese words the glossary knows compare
    with English names too (`客户编号` has the words of `customer_id`)."""
    if not column.text or not other.text:
        return 0.0
    if column.text == other.text:
        return 1.0
    if sorted(column.tokens) == sorted(other.tokens):
        return 0.95
    similarity = _token_dice(column.tokens, other.tokens)
    if _is_cjk(column.text) and _is_cjk(other.text):
        similarity = max(similarity, _cjk_similarity(column.text, other.text))
    elif not _is_cjk(column.text) and not _is_cjk(other.text):
        ratio = difflib.SequenceMatcher(None, column.text, other.text).ratio()
        similarity = max(similarity, ratio * 0.8)
    return similarity


def name_evidence(
    column: str, entity: str, field_name: str, canonical: CanonicalField
) -> tuple[float, str]:
    """How strongly the column's name says it is this field, and why (0 and "" for nothing).

    Exact field name 1.0, exact synonym 0.95; the same after putting the entity's name in
    front of the column (`name` in a product table is `product_name`) a little less; words
    shared or a close spelling at most 0.8.
    """
    col = normalize_name(column)
    target = normalize_name(field_name)
    synonyms = [(s, normalize_name(s)) for s in canonical.synonyms]
    entity_words = normalize_name(entity).tokens
    variants = [(col, 1.0, "")]
    if _is_cjk(col.text):
        pass  # a Chinese header with an English entity name in front would be no one's name
    elif col.tokens and col.tokens[: len(entity_words)] != entity_words:
        prefixed = normalize_name(f"{entity}_{column}")
        variants.append((prefixed, 0.9, f" (as {prefixed.text})"))
    elif len(col.tokens) > len(entity_words):
        bare = normalize_name("_".join(col.text.split("_")[len(entity_words) :]))
        variants.append((bare, 0.9, f" (as {bare.text})"))
    best, why = 0.0, ""
    for name, weight, how in variants:
        if name.text == target.text:
            score, text = 1.0 * weight, f"name {field_name}{how}"
        else:
            exact = next((s for s, n in synonyms if n.text == name.text), None)
            if exact is not None:
                score, text = 0.95 * weight, f"synonym {exact}{how}"
            elif weight < 1.0:
                continue  # with the entity's name added or taken off, only exact names count
            else:
                candidates = [(name_similarity(name, target), field_name)] + [
                    (name_similarity(name, n), s) for s, n in synonyms
                ]
                similarity, near = max(candidates, key=lambda c: c[0])
                score, text = 0.8 * similarity * weight, f"close to {near}{how}"
        if score > best:
            best, why = score, text
    return (round(best, 3), why) if best >= 0.2 else (0.0, "")


# ---------------------------------------------------------------------------------------------
# Value evidence
# ---------------------------------------------------------------------------------------------


def _code_key(value: str) -> str:
    return _clean(value).casefold()


def code_match(profile: ColumnProfile, canonical: CanonicalField) -> float:
    """Share of the column's distinct values that a code field accepts (case and spaces aside)."""
    if not profile.sample or not canonical.codes:
        return 0.0
    accepted = {_code_key(k) for k in canonical.codes} | {
        _code_key(c) for c in canonical.canonical_codes()
    }
    values = [v for v in profile.sample if v]
    return sum(1 for v in values if _code_key(v) in accepted) / max(len(values), 1)


def _pct(share: float) -> str:
    return f"{share:.0%}"


def value_fit(
    profile: ColumnProfile, canonical: CanonicalField, is_key: bool = False
) -> tuple[float, str]:
    """How well the column's type and values fit the field's type, in [0, 1], and why."""
    kind, t = profile.kind, canonical.type
    if not profile.sample:
        return 0.5, "no values yet"
    s = profile.share
    if t == "date":
        if kind == "date":
            return 1.0, "DATE column"
        if kind == "timestamp":
            return 0.5, "a timestamp, not a date"
        if kind == "text" and s("date") >= 0.5:
            return s("date"), f"{_pct(s('date'))} parse as {', '.join(profile.date_formats)}"
        if kind == "text" and s("timestamp") >= 0.5:
            return 0.6 * s("timestamp"), f"{_pct(s('timestamp'))} ISO timestamps"
        if kind == "integer" and max(s("epoch_s"), s("epoch_ms")) >= 0.9:
            return 0.5, "epoch numbers"
        return 0.0, "not dates"
    if t == "timestamp":
        if kind == "timestamp":
            return 1.0, f"{profile.db_type} column"
        if kind == "date":
            return 0.5, "a date, not a timestamp"
        if kind == "text" and s("timestamp") >= 0.5:
            return s("timestamp"), f"{_pct(s('timestamp'))} ISO timestamps"
        if kind == "text" and s("date") >= 0.5:
            return 0.5 * s("date"), f"{_pct(s('date'))} dates without a time"
        if kind == "integer" and max(s("epoch_s"), s("epoch_ms")) >= 0.9:
            return 0.7, "epoch numbers"
        return 0.0, "not timestamps"
    if t == "email":
        fit = s("email") if kind == "text" else 0.0
        return fit, f"{_pct(fit)} e-mail addresses"
    if t == "phone":
        fit = s("phone") if kind == "text" else 0.0
        return fit, f"{_pct(fit)} phone numbers"
    if t in ("money", "decimal", "integer") and kind == "text":
        if s("date") >= 0.8:
            return 0.0, "dates, not numbers"
        if s("phone") >= 0.8:
            return 0.1, "phone numbers, not amounts"
    if t == "money":
        if kind == "decimal":
            return 0.9, f"{profile.db_type} column"
        if kind == "integer":
            return 0.5, "whole numbers"
        if kind == "text" and s("number") >= 0.5:
            text = f"{_pct(s('number'))} money text"
            return s("number") * (1.0 if s("symbol") or s("fraction") >= 0.5 else 0.8), text
        return 0.0, "not amounts"
    if t == "decimal":
        if kind == "decimal":
            return 1.0, f"{profile.db_type} column"
        if kind == "integer":
            return 0.5, "whole numbers"
        if kind == "text" and s("number") >= 0.5:
            frac = s("fraction") >= 0.5 or any(len(v.split(".")[-1]) > 2 for v in profile.sample)
            return s("number") * (1.0 if frac else 0.7), f"{_pct(s('number'))} numbers as text"
        return 0.0, "not numbers"
    if t == "integer":
        if kind == "integer":
            return 1.0, f"{profile.db_type} column"
        if kind == "decimal":
            return 0.4, "decimals"
        if kind == "text":
            return 0.85 * s("integer"), f"{_pct(s('integer'))} whole numbers as text"
        return 0.0, "not whole numbers"
    if t == "boolean":
        if kind == "boolean":
            return 1.0, "BOOLEAN column"
        if kind == "integer" and profile.distinct <= 2:
            return 0.6, "two values"
        return s("boolean"), f"{_pct(s('boolean'))} yes/no values"
    if t == "code":
        matched = code_match(profile, canonical)
        if matched >= 0.5:
            shown = ", ".join(sorted(profile.sample)[:6])
            return matched, f"{_pct(matched)} of its values ({shown}) are {t}s the field accepts"
        if profile.distinct <= 12 or profile.distinct <= 0.05 * profile.non_null:
            return 0.4, f"a small set of {profile.distinct} values"
        return 0.1, "too many distinct values for a code"
    if t == "id":
        if kind == "integer":
            fit, why = 0.75, "whole numbers"
        elif kind == "text" and s("id") >= 0.5:
            fit = 0.9 * s("id")
            why = f"{_pct(s('id'))} id-like ({profile.sample[0]})"
            width = _format_width(canonical.format)
            if width and profile.digits == width:
                fit, why = min(1.0, fit + 0.1), why + f", {width} digits as {canonical.format}"
        elif kind == "text" and max(s("email"), s("date"), s("phone")) < 0.5:
            fit, why = 0.35, "text"
        else:
            return 0.0, "not ids"
        if is_key:
            fit, why = (fit, why + ", unique") if profile.unique else (fit * 0.6, why + ", repeats")
        return fit, why
    # string
    if kind != "text":
        return 0.2, f"{profile.db_type}, not text"
    shaped = max(s("email"), s("date"), s("timestamp"), s("phone"), s("number"))
    if shaped >= 0.8:
        return 0.35, "values have a shape (number, date, e-mail or phone)"
    if s("id") >= 0.8:
        return 0.6, "id-like text"
    return 0.8, "text"


def _format_width(fmt: str | None) -> int | None:
    match = re.search(r"%0(\d+)d", fmt or "")
    return int(match.group(1)) if match else None


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


# ---------------------------------------------------------------------------------------------
# Pairs, tables, assignment
# ---------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Suggestion:
    """One raw column proposed for one canonical field (or for the table's `updated_at`)."""

    table: str
    column: str
    entity: str
    field: str  # the canonical field, or "updated_at" for the table's last-change column
    confidence: float
    reasons: tuple[str, ...]
    options: dict[str, Any] = field(default_factory=dict)  # conversion options (FieldMap)
    problem: str = ""  # why it cannot be written as it is (a money field without currency)

    @property
    def why(self) -> str:
        return "; ".join(r for r in self.reasons if r)

    def mapping_value(self) -> str | dict[str, Any]:
        return {"to": self.field, **self.options} if self.options else self.field


def score_pair(
    profile: ColumnProfile, entity_name: str, entity: Entity, field_name: str
) -> Suggestion:
    """The confidence that a column feeds a field, from its name and its values."""
    canonical = entity.fields[field_name]
    name, name_why = name_evidence(profile.name, entity_name, field_name, canonical)
    fit, fit_why = value_fit(profile, canonical, is_key=field_name in entity.keys)
    if canonical.required and profile.null_share > 0.5:
        fit, fit_why = fit * 0.7, f"{fit_why}; {_pct(profile.null_share)} empty, field required"
    from_name = name * (0.4 + 0.6 * fit)
    from_values = fit * specificity(entity, field_name, profile)
    confidence = min(0.99, 1 - (1 - from_name) * (1 - from_values))
    options, problem, option_why = conversion_options(profile, canonical)
    return Suggestion(
        table="",
        column=profile.name,
        entity=entity_name,
        field=field_name,
        confidence=round(confidence, 2),
        reasons=(name_why, fit_why, option_why),
        options=options,
        problem=problem,
    )


def conversion_options(
    profile: ColumnProfile, canonical: CanonicalField
) -> tuple[dict[str, Any], str, str]:
    """The FieldMap options the values show (formats, currency, decimal mark, case), a problem
    that keeps the suggestion from being written as it is, and why."""
    options: dict[str, Any] = {}
    why = []
    t, kind = canonical.type, profile.kind
    if t in ("date", "timestamp"):
        if kind == "text" and profile.date_formats and profile.share("date") >= 0.5:
            if t == "date" or profile.share("timestamp") < 0.5:
                options["formats"] = list(profile.date_formats)
        elif kind == "integer":
            for epoch in ("epoch_ms", "epoch_s"):
                if profile.share(epoch) >= 0.9:
                    options["formats"] = [epoch]
    problem = ""
    if t == "money":
        unit = normalize_name(profile.name).unit
        currency = unit or profile.currency
        if currency:
            options["currency"] = currency
            why.append(f"header says {unit}" if unit else f"amounts written in {currency}")
        else:
            problem = "no currency in the header or the values: add `currency: <ISO code>`"
    if t in ("money", "decimal", "integer") and kind == "text":
        if profile.share("eu_decimal") > max(0.3, profile.share("us_decimal")):
            options["decimal_mark"] = ","
            why.append(f"{_pct(profile.share('eu_decimal'))} written 1.234,50")
    if t in ("string", "id") and kind == "text" and profile.sample:
        letters = [v for v in profile.sample if v.isalpha() and len(v) <= 5]
        if len(letters) == len(profile.sample) and any(v != v.upper() for v in letters):
            if sum(v == v.upper() for v in letters) >= len(letters) / 2:
                options["case"] = "upper"
                why.append("short codes in mixed case")
    return options, problem, "; ".join(why)


UPDATED_WORDS = {"updated", "update", "modified", "modify", "changed", "change", "mtime"}
UPDATED_CJK = ("更新", "修改", "变更")


def updated_at_column(profiles: list[ColumnProfile]) -> Suggestion | None:
    """The column that says when a record last changed (``updated_at``, ``modified_at``,
    ``修改时间``), if one holds timestamps: newer duplicates win by it."""
    best = None
    for p in profiles:
        name = normalize_name(p.name)
        said = set(name.tokens) & UPDATED_WORDS or any(w in name.text for w in UPDATED_CJK)
        stamps = p.kind == "timestamp" or (p.kind == "text" and p.share("timestamp") >= 0.9)
        if said and stamps:
            confidence = 0.9 if {"updated", "modified"} & set(name.tokens) else 0.75
            if best is None or confidence > best.confidence:
                why = (f"name {p.name} says last change", f"{p.db_type} values")
                best = Suggestion("", p.name, "", "updated_at", confidence, why)
    return best


@dataclass(frozen=True)
class TableSuggestion:
    source: str
    table: str
    entity: str
    entity_is_new: bool  # the table has no mapping yet: `entity` is suggested too
    entity_why: str
    fields: list[Suggestion]  # at most one per canonical field, in the table's column order
    updated_at: Suggestion | None
    unmapped: list[tuple[str, Suggestion | None]]  # column, its best (too weak) guess
    mapped: list[str]  # columns the existing mapping already maps


def assign(pairs: list[Suggestion], floor: float = 0.0) -> list[Suggestion]:
    """One column per field and one field per column, greedily by confidence."""
    taken_columns: set[str] = set()
    taken_fields: set[str] = set()
    chosen = []
    for pair in sorted(pairs, key=lambda p: -p.confidence):
        if pair.confidence < floor or pair.column in taken_columns or pair.field in taken_fields:
            continue
        chosen.append(pair)
        taken_columns.add(pair.column)
        taken_fields.add(pair.field)
    return chosen


def _singular(word: str) -> str:
    if word.endswith("ies") and len(word) > 4:
        return word[:-3] + "y"
    if word.endswith(("ses", "xes", "ches", "shes")):
        return word[:-2]
    return word[:-1] if word.endswith("s") and not word.endswith("ss") else word


def _entity_score(entity_name: str, table: str, chosen: list[Suggestion]) -> float:
    """How well a table is this entity: the confidence its columns map with, and its name."""
    score = sum(s.confidence for s in chosen if s.confidence >= 0.4)
    table_words = tuple(_singular(w) for w in normalize_name(table).tokens)
    entity_words = normalize_name(entity_name).tokens
    if table_words == entity_words:
        score += 0.5
    elif set(table_words) & set(entity_words):
        score += 0.2
    return score


def suggest_table(
    source: str,
    table: str,
    profiles: list[ColumnProfile],
    dictionary: Dictionary,
    existing: TableMapping | None = None,
    naming: str = "snake_case",
    floor: float = 0.2,
) -> TableSuggestion:
    """Suggestions for one raw table; the columns and fields ``existing`` maps are left alone."""
    mapped_columns = set()
    taken_fields: set[str] = set()
    if existing is not None:
        for source_field, fmap in existing.field_maps().items():
            mapped_columns.add(raw_column(source_field, naming))
            taken_fields.add(fmap.to)
        for role in (existing.updated_at, existing.id):
            if role:
                mapped_columns.add(raw_column(role, naming))
    open_profiles = [p for p in profiles if p.name not in mapped_columns]
    updated = None
    if existing is None or existing.updated_at is None:
        updated = updated_at_column(open_profiles)
    candidates = [p for p in open_profiles if updated is None or p.name != updated.column]

    def pairs_for(entity_name: str) -> list[Suggestion]:
        entity = dictionary.entities[entity_name]
        return [
            score_pair(p, entity_name, entity, f)
            for p in candidates
            for f in entity.fields
            if f not in taken_fields
        ]

    if existing is not None and existing.entity not in dictionary.entities:
        why = f"its entity {existing.entity!r} is not in the dictionary: run `tributary validate`"
        unknown = [(p.name, None) for p in candidates]
        return TableSuggestion(source, table, existing.entity, False, why, [], None, unknown, [])
    if existing is not None:
        entity_name, entity_why, is_new = existing.entity, "mapped already", False
        pairs = pairs_for(entity_name)
        chosen = assign(pairs, floor)
    else:
        scored = []
        for name in dictionary.entities:
            pairs = pairs_for(name)
            chosen = assign(pairs, floor)
            scored.append((_entity_score(name, table, chosen), name, pairs, chosen))
        score, entity_name, pairs, chosen = max(scored, key=lambda s: s[0])
        fitting = sum(1 for s in chosen if s.confidence >= 0.5)
        runner_up = sorted((s[0] for s in scored), reverse=True)[1:2] or [0.0]
        entity_why = (
            f"{fitting} of {len(candidates)} columns fit its fields; "
            f"score {score:.2f} (next best {runner_up[0]:.2f})"
            if fitting
            else "no column fits any entity well: add the entity to the dictionary first"
        )
        is_new = True
    chosen_columns = {s.column for s in chosen}
    best_guess = {}
    for pair in sorted(pairs, key=lambda p: -p.confidence):
        best_guess.setdefault(pair.column, pair)
    unmapped = [
        (p.name, best_guess.get(p.name)) for p in candidates if p.name not in chosen_columns
    ]
    order = {p.name: i for i, p in enumerate(profiles)}  # the table's own column order
    with_table = [_with_table(s, table) for s in sorted(chosen, key=lambda s: order[s.column])]
    return TableSuggestion(
        source=source,
        table=table,
        entity=entity_name,
        entity_is_new=is_new,
        entity_why=entity_why,
        fields=with_table,
        updated_at=_with_table(updated, table, entity_name) if updated else None,
        unmapped=[(c, _with_table(g, table) if g else None) for c, g in unmapped],
        mapped=sorted(mapped_columns & {p.name for p in profiles}),
    )


def _with_table(s: Suggestion, table: str, entity: str | None = None) -> Suggestion:
    return replace(s, table=table, entity=entity or s.entity)


# ---------------------------------------------------------------------------------------------
# A whole source, from the warehouse
# ---------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class SourceSuggestions:
    spec: SourceSpec
    dictionary: Dictionary
    path: Path  # the mapping file
    existing: Mapping | None
    tables: list[TableSuggestion]
    not_loaded: list[str]  # tables of the source file with no raw table yet


def read_existing(path: Path) -> Mapping | None:
    """The mapping file as it is, if any; structural mistakes stop here (file, line, fix)."""
    if not path.exists():
        return None
    try:
        mapping, _ = load_model(path, Mapping)
    except SpecErrors as exc:
        raise SuggestError(
            str(exc.errors[0])
            + (f" (and {len(exc.errors) - 1} more)" if len(exc.errors) > 1 else "")
        ) from None
    return mapping


def suggest_source(
    sources_dir: Path,
    warehouse: Path,
    source: str,
    table: str | None = None,
    dictionary: Dictionary | None = None,
) -> SourceSuggestions:
    """Suggestions for a source's loaded tables (or one of them), read from the warehouse."""
    try:
        specs = {s.name: s for s in load_specs(sources_dir)}
        dictionary = dictionary or load_dictionary(sources_dir)
    except SpecErrors as exc:
        raise SuggestError(f"{exc.errors[0]} — run `tributary validate`") from None
    spec = specs.get(source)
    if spec is None:
        close = difflib.get_close_matches(source, list(specs), n=1)
        hint = f"did you mean `{close[0]}`?" if close else f"one of: {', '.join(sorted(specs))}"
        raise SuggestError(f"no source {source!r} in {sources_dir} — {hint}")
    tables = spec.table_names()
    if table is not None and table not in tables:
        raise SuggestError(f"{source} has no table {table!r} — one of: {', '.join(tables)}")
    path = mapping_path(sources_dir, source)
    existing = read_existing(path)
    if not warehouse.exists():
        raise SuggestError(
            f"no warehouse at {warehouse} yet — materialize the {source} source "
            f"({spec.dataset}/*) in the Dagster UI (`make dev`) first"
        )
    try:
        con = duckdb.connect(str(warehouse), read_only=True)
    except duckdb.IOException as exc:
        if "lock" in str(exc).lower():
            raise SuggestError(
                f"{warehouse} is locked by a running load — try again when it has finished"
            ) from None
        raise SuggestError(f"cannot open {warehouse}: {str(exc).splitlines()[0]}") from None
    try:
        loaded = raw_tables(con, spec.dataset)
        wanted = [table] if table else tables
        missing = [t for t in wanted if t not in loaded]
        if len(missing) == len(wanted):
            what = f"{spec.dataset}.{table}" if table else f"{spec.dataset}"
            raise SuggestError(
                f"{what} is not loaded yet — materialize the {source} source "
                f"({spec.dataset}/*) in the Dagster UI (`make dev`) first, then suggest"
            )
        results = []
        for name in wanted:
            if name in missing:
                continue
            profiles = profile_table(con, spec.dataset, name)
            current = existing.tables.get(name) if existing else None
            results.append(suggest_table(source, name, profiles, dictionary, current, spec.naming))
    finally:
        con.close()
    return SourceSuggestions(spec, dictionary, path, existing, results, missing)


def _target(s: Suggestion) -> str:
    return (
        f"{s.table}.updated_at (last change)"
        if s.field == "updated_at"
        else f"{s.entity}.{s.field}"
    )


def report_lines(result: SourceSuggestions, min_confidence: float) -> list[str]:
    """What `tributary map suggest` prints: one line per suggestion, then what stays unmapped.

    ``employees.hireDate → employee.hire_date  confidence 0.99  (why: name hire_date; 100%
    parse as %d/%m/%Y)  options {formats: ['%d/%m/%Y']}``
    """
    lines = [
        f"{result.spec.dataset}.{name}: not loaded yet, skipped (materialize it first)"
        for name in result.not_loaded
    ]
    unmapped = []
    for t in result.tables:
        if t.entity_is_new:
            lines.append(f"{t.table} → entity {t.entity}  (why: {t.entity_why})")
        weak = []
        for s in [*t.fields, *([t.updated_at] if t.updated_at else [])]:
            if s.confidence < min_confidence:
                weak.append((s.column, s))
                continue
            options = f"  options {flow(s.options)}" if s.options else ""
            problem = f"  — not accepted: {s.problem}" if s.problem else ""
            lines.append(
                f"{t.table}.{s.column} → {_target(s)}  confidence {s.confidence:.2f}  "
                f"(why: {s.why}){options}{problem}"
            )
        for column, guess in [*weak, *t.unmapped]:
            hint = ""
            if guess is not None and guess.confidence >= 0.2:
                hint = f" (best guess {_target(guess)} {guess.confidence:.2f})"
            unmapped.append(f"{t.table}.{column}{hint}")
    summary = f"{len(unmapped)} column(s) stay unmapped"
    if unmapped:
        summary += f" (nothing at or above {min_confidence:.2f}): " + ", ".join(unmapped)
    mapped = sum(len(t.mapped) for t in result.tables)
    if mapped:
        summary += f"; {mapped} mapped already"
    return [*lines, summary]


# ---------------------------------------------------------------------------------------------
# Accepting: the suggestions into the mapping file
# ---------------------------------------------------------------------------------------------


def _merged(existing: TableMapping | None, addition: TableAddition) -> dict[str, Any]:
    data = existing.model_dump(exclude_defaults=True) if existing else {"fields": {}}
    if addition.entity:
        data["entity"] = addition.entity
    if addition.updated_at:
        data["updated_at"] = addition.updated_at
    data["fields"] = {**data.get("fields", {}), **{e.key: e.value for e in addition.fields}}
    return data


def accepted(
    result: SourceSuggestions, min_confidence: float
) -> tuple[list[TableAddition], list[str]]:
    """What `--accept` adds, table by table, and a note for each suggestion it leaves out.

    A table whose additions would not validate on their own (a new table without its entity's
    key, say) is left out whole, with the reason: the file never gets an invalid table.
    """
    additions, notes = [], []
    for t in result.tables:
        entries = []
        for s in t.fields:
            if s.confidence < min_confidence:
                continue
            if s.problem:
                notes.append(f"left out {t.table}.{s.column} → {s.entity}.{s.field}: {s.problem}")
                continue
            entries.append(Entry(s.column, s.mapping_value(), f"suggested {s.confidence:.2f}"))
        updated = (
            t.updated_at.column
            if t.updated_at and t.updated_at.confidence >= min_confidence
            else None
        )
        if not entries and (t.entity_is_new or not updated):
            continue
        addition = TableAddition(t.table, t.entity if t.entity_is_new else None, updated, entries)
        current = result.existing.tables.get(t.table) if result.existing else None
        problems = []
        try:
            single = Mapping.model_validate({"tables": {t.table: _merged(current, addition)}})
            problems = [
                e.message
                for e in check_mapping(result.path, None, single, result.spec, result.dictionary)
            ]
        except ValidationError as exc:
            problems = [f"{'.'.join(map(str, e['loc']))}: {e['msg']}" for e in exc.errors()]
        if problems:
            notes.append(f"left out table {t.table}: {problems[0]} — map it by hand")
            continue
        additions.append(addition)
    return additions, notes


def mapping_problems(
    path: Path, text: str, spec: SourceSpec, dictionary: Dictionary
) -> list[SpecError]:
    """What `load_mappings` would say about this text as the source's mapping file."""
    try:
        node = yaml.compose(text)
        data = yaml.safe_load(text)
        mapping = Mapping.model_validate(data)
    except yaml.YAMLError as exc:
        return [SpecError(path, None, f"not valid YAML: {exc}")]
    except ValidationError as exc:
        return [
            SpecError(path, None, f"{'.'.join(map(str, e['loc']))}: {e['msg']}")
            for e in exc.errors()
        ]
    return check_mapping(path, node, mapping, spec, dictionary)


def accept_text(result: SourceSuggestions, additions: list[TableAddition]) -> str:
    """The mapping file's new text: created, or the existing one with the additions merged in."""
    if result.path.exists():
        try:
            return with_additions(result.path.read_text(encoding="utf-8"), additions)
        except ValueError as exc:
            raise SuggestError(f"{result.path}: cannot merge suggestions: {exc}") from None
    header = [
        f"The {result.spec.name} source's fields onto the data dictionary, as proposed by",
        "`tributary map suggest` (each line's comment says how sure it was): review them,",
        "then run `tributary generate`.",
    ]
    return new_file(header, additions)


def write_mapping(result: SourceSuggestions, additions: list[TableAddition]) -> Path:
    """Validate the new text as `load_mappings` would, then replace the file atomically."""
    text = accept_text(result, additions)
    problems = mapping_problems(result.path, text, result.spec, result.dictionary)
    if problems:
        raise SuggestError(f"nothing written: the result would not validate: {problems[0]}")
    partial = result.path.with_name(f".{result.path.name}.partial")
    partial.write_text(text, encoding="utf-8")
    partial.replace(result.path)
    return result.path
