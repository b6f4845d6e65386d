"""The planted mess: how often each system misspells a value, and each spelling.

A record draws its style once, at birth, so an unchanged record is served identically on
every later day; the truth keeps the one clean value behind every spelling.
"""

from datetime import UTC, datetime, timedelta, timezone
from decimal import Decimal

from demo_enterprise.clock import utc_text

GENDER_STYLES = {"latin": 0.6, "hanzi": 0.37, "null": 0.03}
SALARY_STYLES = {"yuan": 0.85, "plain": 0.10, "spaced": 0.05}
EMAIL_STYLES = {"lower": 0.90, "upper": 0.05, "mixed": 0.05}
PHONE_STYLES = {"plain": 0.4, "spaced": 0.2, "dashed": 0.2, "e164": 0.2}
OFFSETS = {8: 0.5, 0: 0.35, 1: 0.15}  # hours east of UTC a CRM timestamp is served in
STATUS_STYLES = {"clean": 0.85, "upper": 0.05, "title_lead": 0.05, "trail": 0.05}

_HANZI_GENDER = {"M": "男", "F": "女"}


def gender(code: str, style: str) -> str | None:
    """M/F, 男/女, or missing."""
    return {"latin": code, "hanzi": _HANZI_GENDER[code], "null": None}[style]


def salary(amount: Decimal, style: str) -> str:
    """`¥12,300.00`, `12300.00` or `¥ 12,300`."""
    return {
        "yuan": f"¥{amount:,.2f}",
        "plain": f"{amount:.2f}",
        "spaced": f"¥ {int(amount):,}",
    }[style]


def email(address: str, style: str) -> str:
    return {"lower": address, "upper": address.upper(), "mixed": address.title()}[style]


def phone(number: str, style: str) -> str:
    """Eleven digits as typed: plain, spaced or dashed, with or without +86."""
    return {
        "plain": number,
        "spaced": f"+86 {number[:3]} {number[3:7]} {number[7:]}",
        "dashed": f"{number[:3]}-{number[3:7]}-{number[7:]}",
        "e164": f"+86{number}",
    }[style]


def local_time(moment: datetime, offset_hours: int) -> str:
    """A naive UTC moment served in a time zone of its own (`Z` when that zone is UTC)."""
    if offset_hours == 0:
        return utc_text(moment)
    zone = timezone(timedelta(hours=offset_hours))
    return moment.replace(tzinfo=UTC).astimezone(zone).isoformat(timespec="seconds")


def status(canonical: str, style: str) -> str:
    """`shipped`, `SHIPPED`, ` Shipped` or `shipped `."""
    return {
        "clean": canonical,
        "upper": canonical.upper(),
        "title_lead": f" {canonical.title()}",
        "trail": f"{canonical} ",
    }[style]
