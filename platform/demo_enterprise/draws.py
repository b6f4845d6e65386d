"""The random draws every system makes, each from the caller's own `random.Random`."""

import math
import random
from typing import Any

Record = dict[str, Any]


def pick(rng: random.Random, weighted: dict[Any, float]) -> Any:
    return rng.choices(list(weighted), weights=list(weighted.values()))[0]


def poisson(rng: random.Random, mean: float) -> int:
    """Knuth's method: a day's order count varies around its mean."""
    limit, count, product = math.exp(-mean), 0, rng.random()
    while product > limit:
        count += 1
        product *= rng.random()
    return count


def scaled(rng: random.Random, low: int, high: int, scale: float) -> int:
    """A small daily count from low..high at scale 1, never below one."""
    return max(1, round(rng.randint(low, high) * scale))
