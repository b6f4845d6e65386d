"""Name evidence: how strongly a column's name says it is a canonical field.

Both names are normalized first (``staffID`` → ``staff_id``, units such as ``(USD)`` or
``_cny`` set aside, common abbreviations expanded). Exact name or synonym is strong; shared
words or a close spelling are weaker. Chinese headers are compared with Chinese synonyms
character by character, and word by word with English names through a small glossary
(``客户编号`` → customer, no).
"""

from __future__ import annotations

import difflib
import re
import unicodedata
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass

from tributary.contracts.dictionary import CanonicalField
from tributary.standardize.suggest.profiles import CURRENCY_WORDS, SYMBOLS

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
        unit = CURRENCY_WORDS.get(inside) or SYMBOLS.get(inside)
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


def _name_variants(
    column: str, entity: str, renames: Sequence[tuple[str, str]] = ()
) -> list[tuple[Name, float, str]]:
    """The column's name, and (weighted a little less) with the entity's name put in front of
    it or taken off it, or with an entity's synonym it starts with read as that entity
    (`client_id` is `customer_id`): (name, weight, how it was read). ``renames`` holds
    (synonym, entity) pairs."""
    col = normalize_name(column)
    entity_words = normalize_name(entity).tokens
    variants = [(col, 1.0, "")]
    for synonym, named in renames:
        words = normalize_name(synonym).tokens
        if words and len(col.tokens) > len(words) and col.tokens[: len(words)] == words:
            rest = "_".join(col.text.split("_")[len(words) :])
            as_entity = normalize_name(f"{named}_{rest}")
            variants.append((as_entity, 0.95, f" (as {as_entity.text})"))
    if _is_cjk(col.text):
        pass  # a Chinese header with an English entity name in front would be no one's name
    elif col.tokens and col.tokens[: len(entity_words)] != entity_words:
        prefixed = normalize_name(f"{entity}_{column}")
        variants.append((prefixed, 0.9, f" (as {prefixed.text})"))
    elif len(col.tokens) > len(entity_words):
        bare = normalize_name("_".join(col.text.split("_")[len(entity_words) :]))
        variants.append((bare, 0.9, f" (as {bare.text})"))
    return variants


def _variant_score(
    name: Name, weight: float, field_name: str, target: Name, synonyms: list[tuple[str, Name]]
) -> tuple[float, str] | None:
    """One reading of the column's name against the field's name and synonyms."""
    if name.text == target.text:
        return 1.0 * weight, f"name {field_name}"
    exact = next((s for s, n in synonyms if n.text == name.text), None)
    if exact is not None:
        return 0.95 * weight, f"synonym {exact}"
    if weight < 1.0:
        return None  # with the entity's name added or taken off, only exact names count
    candidates = [(name_similarity(name, target), field_name)] + [
        (name_similarity(name, n), s) for s, n in synonyms
    ]
    similarity, near = max(candidates, key=lambda c: c[0])
    return 0.8 * similarity * weight, f"close to {near}"


def name_evidence(
    column: str,
    entity: str,
    field_name: str,
    canonical: CanonicalField,
    renames: Sequence[tuple[str, str]] = (),
) -> tuple[float, str]:
    """How strongly the column's name says it is this field, and why (0 and "" for nothing).

    Exact field name 1.0, exact synonym 0.95; the same after putting the entity's name in
    front of the column (`name` in a product table is `product_name`) a little less; words
    shared or a close spelling at most 0.8.
    """
    target = normalize_name(field_name)
    synonyms = [(s, normalize_name(s)) for s in canonical.synonyms]
    best, why = 0.0, ""
    for name, weight, how in _name_variants(column, entity, renames):
        scored = _variant_score(name, weight, field_name, target, synonyms)
        if scored is not None and scored[0] > best:
            best, why = scored[0], scored[1] + how
    return (round(best, 3), why) if best >= 0.2 else (0.0, "")
