"""Likely duplicate records of an entity, found on the fields the dictionary says identify one
(``identify_by``), and records a source delivered more than once.

- **Exact duplicates**: conformed records with different keys whose identifying fields are all
  equal after a light normalization (lower case, full-width → half-width, white space trimmed
  and collapsed). A missing value equals nothing: two records without a phone are not
  duplicates for that reason.
- **Near duplicates**: pairs whose *name* (the first ``identify_by`` field, when it is a
  ``string``: the company name, the person's name) is very similar once punctuation and legal
  forms ("Co., Ltd.", "有限公司") are dropped, while every other identifying field (phone,
  e-mail, SKU) agrees or is missing on one side: "Acme Trading Co., Ltd." and "ACME Trading
  Co Ltd" with the same phone are one company; two companies with the same name and
  different phones are not flagged (a name clash is a steward's call, and common in
  generated data).

Comparing every pair is quadratic, so only pairs sharing a block are compared: the first
``BLOCK_PREFIX`` characters of the name, or the same value of another identifying
field. A block larger than ``MAX_BLOCK`` records (a placeholder phone, a very common name) is
not expanded and is reported instead, so 100k records stay a matter of seconds.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass
from typing import Any

import duckdb
import pandas as pd

# Jaro-Winkler similarity of two names from which a pair is reported. Measured on
# names with their legal form dropped: typos and spelling variants ("acme trading" / "acme
# tradng" 0.98, "上海华信科技" / "上海华信科枝" 0.93, "northwind traders" / "northwind trading"
# 0.93) reach it; different companies sharing a prefix ("acme trading" / "apex trading" 0.90,
# "上海华信科技" / "上海华信贸易" 0.87, "acme trading" / "acme textiles" 0.82) do not.
NEAR_DUPLICATE_SIMILARITY = 0.92
BLOCK_PREFIX = 4  # characters of the name (spaces removed) that form a block
MAX_BLOCK = 500  # records; a larger block would cost 125k comparisons and means a placeholder
SAMPLE_ROWS = 20

# Legal forms carry no identity: dropped as whole Latin tokens or as a CJK suffix.
LEGAL_FORM_TOKENS = frozenset(
    "co company corp corporation inc incorporated ltd limited llc plc gmbh ag sa srl bv "
    "pte pty kk".split()
)
CJK_LEGAL_SUFFIXES = ("股份有限公司", "有限责任公司", "有限公司", "公司")

_SPACE = re.compile(r"[\s\u200b\ufeff]+")
_PUNCTUATION = re.compile(r"[^\w\s]|_")


def normalize(value: Any) -> str | None:
    """Text for equality: full-width → half-width (NFKC), lower case, white space trimmed and
    collapsed. Missing or blank gives None."""
    if value is None or (not isinstance(value, str) and pd.isna(value)):
        return None
    text = _SPACE.sub(" ", unicodedata.normalize("NFKC", str(value)).lower()).strip()
    return text or None


def identity_text(value: Any) -> str | None:
    """Text for similarity: ``normalize``, punctuation as spaces, legal forms dropped (unless
    nothing else is left)."""
    text = normalize(value)
    if text is None:
        return None
    tokens = _PUNCTUATION.sub(" ", text).split()
    if not tokens:
        return text
    kept = " ".join(t for t in tokens if t not in LEGAL_FORM_TOKENS) or " ".join(tokens)
    stripped = True
    while stripped:
        stripped = False
        for suffix in CJK_LEGAL_SUFFIXES:
            if kept.endswith(suffix) and len(kept) > len(suffix):
                kept, stripped = kept[: -len(suffix)].rstrip(), True
                break
    return kept


def block_of(text: str | None) -> str | None:
    """The blocking key of a name's identity text: its first characters, spaces removed."""
    return None if text is None else text.replace(" ", "")[:BLOCK_PREFIX] or None


@dataclass(frozen=True)
class Identity:
    """What identifies a record of one entity: its key columns and ``identify_by`` fields."""

    keys: list[str]
    fields: list[str]  # identify_by, in dictionary order
    name_field: str | None = None  # the first of them when it is text: compared by similarity

    @property
    def other_fields(self) -> list[str]:
        return [f for f in self.fields if f != self.name_field]


def prepare(frame: pd.DataFrame, identity: Identity) -> pd.DataFrame:
    """One row per record: ``_key`` (keys joined by '|'), ``_n<i>`` the normalized value of
    each identifying field, ``_text`` the name's identity text and ``_block`` its block."""
    out = pd.DataFrame({"_rid": range(len(frame))})
    out["_key"] = frame[identity.keys].astype(str).agg("|".join, axis=1).to_numpy()
    for i, name in enumerate(identity.fields):
        out[f"_n{i}"] = pd.Series([normalize(v) for v in frame[name]], dtype="object")
    names = frame[identity.name_field] if identity.name_field else [None] * len(frame)
    texts = [identity_text(v) for v in names]
    out["_text"] = pd.Series(texts, dtype="object")
    out["_block"] = pd.Series([block_of(t) for t in texts], dtype="object")
    return out


def _all_equal(identity: Identity, left: str, right: str) -> str:
    return " and ".join(f"{left}._n{i} = {right}._n{i}" for i in range(len(identity.fields)))


def exact_duplicates(prepared: pd.DataFrame, identity: Identity) -> pd.DataFrame:
    """Groups of records with different keys and equal identifying fields: ``_group`` (1…),
    ``_rid``, ``_key``, ``_group_size``; largest groups first."""
    columns = [f"_n{i}" for i in range(len(identity.fields))]
    filled = prepared.dropna(subset=columns)
    grouped = filled.groupby(columns, sort=False)["_key"]
    sizes = grouped.transform("nunique")
    dupes = filled.loc[sizes > 1].assign(_group_size=sizes[sizes > 1])
    if dupes.empty:
        return pd.DataFrame(columns=["_group", "_rid", "_key", "_group_size"])
    dupes = dupes.sort_values(
        ["_group_size", *columns, "_key"], ascending=[False] + [True] * (len(columns) + 1)
    )
    dupes["_group"] = dupes.groupby(columns, sort=False).ngroup() + 1
    return dupes[["_group", "_rid", "_key", "_group_size"]].reset_index(drop=True)


def near_duplicates(
    prepared: pd.DataFrame,
    identity: Identity,
    threshold: float = NEAR_DUPLICATE_SIMILARITY,
    max_block: int = MAX_BLOCK,
) -> tuple[pd.DataFrame, list[str]]:
    """Pairs of records (``left_rid``, ``right_rid``, ``similarity``) whose names are at least
    ``threshold`` similar, whose other identifying fields agree or are missing on one side,
    and which are not exact duplicates; plus the blocks too large to expand."""
    others = [identity.fields.index(f) for f in identity.other_fields]
    block_sources = ["select '~' || _block as block, _rid from records where _block is not null"]
    block_sources += [
        f"select '{i}:' || _n{i} as block, _rid from records where _n{i} is not null"
        for i in others
    ]
    agree = "".join(
        f"\n        and (l._n{i} is null or r._n{i} is null or l._n{i} = r._n{i})" for i in others
    )
    sql = f"""
    with
    blocks as (
        {" union all ".join(block_sources)}
    ),
    block_sizes as (
        select block, count(*) as records from blocks group by block
    ),
    pairs as (
        select distinct a._rid as left_rid, b._rid as right_rid
        from blocks as a
        inner join blocks as b on a.block = b.block and a._rid < b._rid
        where a.block in (select block from block_sizes where records <= $max_block)
    ),
    candidates as (
        select p.left_rid, p.right_rid, l._text as left_text, r._text as right_text
        from pairs as p
        inner join records as l on l._rid = p.left_rid
        inner join records as r on r._rid = p.right_rid
        where l._key <> r._key
        and l._text is not null and r._text is not null{agree}
        and not coalesce({_all_equal(identity, "l", "r")}, false)
    )
    select
        left_rid,
        right_rid,
        round(jaro_winkler_similarity(left_text, right_text), 3) as similarity
    from candidates
    where jaro_winkler_similarity(left_text, right_text) >= $threshold
    order by similarity desc, left_rid, right_rid
    """
    with duckdb.connect() as con:
        con.register("records", prepared)
        pairs = con.execute(sql, {"max_block": max_block, "threshold": threshold}).df()
        oversized = con.execute(
            f"with blocks as ({' union all '.join(block_sources)}) "
            "select block from blocks group by block having count(*) > $max_block order by 1",
            {"max_block": max_block},
        ).fetchall()
    return pairs, [_block_label(b[0], identity) for b in oversized]


def _block_label(block: str, identity: Identity) -> str:
    """'~acme' → "name starting 'acme'"; '1:+86…' → "phone_e164 = '+86…'"."""
    if block.startswith("~"):
        return f"name starting {block[1:]!r}"
    index, _, value = block.partition(":")
    return f"{identity.fields[int(index)]} = {value!r}"


def redelivered(con: duckdb.DuckDBPyConnection, relation: str) -> dict[str, Any]:
    """Records a source delivered more than once in one staging model (same ``_source_id``):
    rows, distinct records, and the difference, which the conformed model merges."""
    rows, distinct = con.execute(
        f"select count(*), count(distinct _source_id) from {relation}"
    ).fetchone()
    top = con.execute(
        f"select _source_id, count(*) as deliveries from {relation} group by _source_id "
        f"having count(*) > 1 order by deliveries desc, _source_id limit {SAMPLE_ROWS}"
    ).df()
    return {"rows": rows, "distinct_records": distinct, "merged": rows - distinct, "top": top}
