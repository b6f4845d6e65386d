"""The incremental cursor of one SQL target table, kept in that resource's dlt state.

Each run reads ``cursor >= last value`` (pushed down into SQL): the closed bound catches rows
written later within the same timestamp, and the keys of the rows already loaded at exactly that
value are remembered, so they are not loaded twice and a run with no changes loads nothing.
Tributary keeps this itself rather than through ``dlt.sources.incremental``, whose filter would
also drop the rows a delete detection re-emits (they carry old cursor values by nature).
"""

import hashlib
from collections.abc import Iterable, MutableMapping
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

STATE_KEY = "cursor"


def row_hashes(rows: pa.Table, columns: Iterable[str]) -> list[str]:
    """Stable short hashes of the given columns' values, one per row."""
    picked = rows.select(list(columns)).to_pylist()
    return [_digest(tuple(row.values())) for row in picked]


def _digest(values: tuple[Any, ...]) -> str:
    return hashlib.blake2b(repr(values).encode(), digest_size=8).hexdigest()


class Cursor:
    """Where the previous run stopped (``start``) and where this one gets to (``last``)."""

    def __init__(self, state: MutableMapping[str, Any], column: str, initial_value: Any = None):
        saved = state.get(STATE_KEY) or {}
        if saved.get("column") != column:  # first run, or the cursor column was changed
            saved = {"column": column, "last_value": initial_value, "loaded": []}
        self.state = state
        self.column = column
        self.start = saved["last_value"]
        self.loaded_at_start = frozenset(saved["loaded"])
        self.last = self.start
        self.at_last: set[str] = set(self.loaded_at_start)
        self.seen_rows = False

    @property
    def full(self) -> bool:
        """True when this run reads every row (no previous value, no initial value)."""
        return self.start is None

    def admit(self, rows: pa.Table, key: list[str]) -> pa.Table:
        """Drop rows loaded before (at the start value) and advance the last value."""
        if self.column not in rows.column_names:
            raise LookupError(f"cursor column {self.column!r} is not in the rows read")
        key = key or rows.column_names
        values = rows[self.column]
        if self.start is not None and self.loaded_at_start:
            at_start = pc.fill_null(pc.equal(values, pa.scalar(self.start, values.type)), False)
            positions = pc.indices_nonzero(at_start)
            if len(positions):
                hashes = row_hashes(rows.take(positions), key)
                keep = np.ones(rows.num_rows, dtype=bool)
                for position, digest in zip(positions.to_pylist(), hashes, strict=True):
                    keep[position] = digest not in self.loaded_at_start
                rows = rows.filter(pa.array(keep))
                values = rows[self.column]
        top = pc.max(values).as_py()
        if top is None:
            return rows
        if self.last is not None:  # as the rows have it: a backend switch may change tz-awareness
            self.last = pa.scalar(self.last, values.type).as_py()
        self.seen_rows = True
        at_top = rows.filter(pc.fill_null(pc.equal(values, pa.scalar(top, values.type)), False))
        if self.last is None or top > self.last:
            self.last, self.at_last = top, set(row_hashes(at_top, key))
        elif top == self.last:
            self.at_last.update(row_hashes(at_top, key))
        return rows

    def save(self) -> None:
        """Record where this run got to; dlt commits it with the load, so a failed load retries."""
        if self.seen_rows:
            self.state[STATE_KEY] = {
                "column": self.column,
                "last_value": self.last,
                "loaded": sorted(self.at_last),
            }
