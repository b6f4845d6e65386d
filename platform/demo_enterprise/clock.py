"""The demo clock: day 0 is NOW0, each advance adds whole days, and things happen in UTC
business hours."""

import random
from datetime import date, datetime, time, timedelta

NOW0 = date(2025, 12, 31)
HISTORY_START = date(2024, 1, 1)
FX_START = date(2023, 12, 1)
BUSINESS_HOURS = (6 * 3600, 22 * 3600)  # UTC seconds in which things happen


def now(day: int) -> date:
    """The demo clock: day 0 is NOW0 and each advance adds whole days."""
    return NOW0 + timedelta(days=day)


def stamp(rng: random.Random, day: date) -> datetime:
    """A moment (naive UTC) during business hours on `day`."""
    return datetime.combine(day, time()) + timedelta(seconds=rng.randint(*BUSINESS_HOURS))


def some_day(rng: random.Random, first: date, last: date) -> date:
    return first + timedelta(days=rng.randint(0, (last - first).days))


def utc_text(moment: datetime) -> str:
    """`2025-12-31T09:30:00Z`: how the REST systems spell a naive UTC moment."""
    return moment.strftime("%Y-%m-%dT%H:%M:%SZ")
