"""Task control of a source (``control:`` in its YAML): how much dirt one load may bring.

A load whose rows would mostly land in quarantine is not a day of data but a broken feed;
publishing what is left of it would show analysts a half-empty day as if it were whole.
"""

from __future__ import annotations

from pydantic import Field

from tributary.contracts.specfile import Strict

_PERCENT = r"^\s*\d+(\.\d+)?\s*%\s*$"


class Control(Strict):
    max_quarantined: str = Field(
        "20%",
        description="Fail the load, and keep the analyst snapshot as it was, when more than "
        "this share of a table's rows would be quarantined (e.g. 5%, 20%). Default 20%.",
        pattern=_PERCENT,
    )

    @property
    def max_quarantined_share(self) -> float:
        """The threshold as a fraction (0.2 for 20%)."""
        return float(self.max_quarantined.strip().rstrip("%")) / 100
