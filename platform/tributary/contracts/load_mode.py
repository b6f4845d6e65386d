"""How a table is written: the load modes every source kind offers, mapped to dlt's hints."""

from typing import Any, Literal

LoadMode = Literal["append", "replace", "merge", "scd2"]


def write_disposition(mode: LoadMode | None, primary_key: Any) -> Any:
    """dlt's write disposition for a load mode; by default merge when a key is declared.

    scd2 keeps every version of a row with validity columns (``_dlt_valid_from`` and
    ``_dlt_valid_to``): the history of dimension sources such as HR.
    """
    mode = mode or ("merge" if primary_key else "append")
    if mode == "scd2":
        return {"disposition": "merge", "strategy": "scd2"}
    if mode == "merge" and not primary_key:
        raise ValueError("merge needs a primary_key")
    return mode
