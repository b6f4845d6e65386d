"""How a table is written: one rule for every source kind, and dlt's hints for each mode.

The rule: a declared key merges on it, an unkeyed incremental load appends what is new, an
unkeyed full load replaces the table. So a retry, a re-run after a failure or the next
scheduled run never doubles a row: a key means one row per key, and a full load without one
is the whole table again. A source file may choose another mode where it still holds (e.g.
``replace`` or ``scd2`` with a key), but never ``append`` with a key.
"""

from typing import Any, Literal

LoadMode = Literal["append", "replace", "merge", "scd2"]


def load_mode(mode: LoadMode | None, primary_key: Any, incremental: bool) -> LoadMode:
    """The mode a table loads by: the one given, checked, else the rule's."""
    if mode is None:
        return "merge" if primary_key else "append" if incremental else "replace"
    if mode == "merge" and not primary_key:
        raise ValueError("merge needs a primary_key")
    if mode == "append" and primary_key:
        raise ValueError(
            "a table with a primary_key is never appended: every re-run would add its rows "
            "again. Remove the append (it then merges on the key, one row per key) or the key"
        )
    return mode


def write_disposition(mode: LoadMode) -> Any:
    """dlt's write disposition for a load mode.

    scd2 keeps every version of a row with validity columns (``_dlt_valid_from`` and
    ``_dlt_valid_to``): the history of dimension sources such as HR.
    """
    if mode == "scd2":
        return {"disposition": "merge", "strategy": "scd2"}
    return mode
