"""The fault matrix's fixtures. Each case ends by calling ``survived(name, count)``, which asserts
0 lost and 0 doubled and records the counts (as junit properties) for ``make chaos``."""

import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "integration"))

from harness import LOADERS, Count  # noqa: E402


@pytest.fixture(autouse=True)
def no_loader_left():
    yield
    while LOADERS:
        LOADERS.pop().stop()


@pytest.fixture
def survived(record_property):
    def check(fault: str, counts: Count) -> None:
        record_property("fault", fault)
        record_property("lost", counts.lost)
        record_property("doubled", counts.doubled)
        assert (counts.lost, counts.doubled) == (0, 0), f"{fault}: {counts}"

    return check
