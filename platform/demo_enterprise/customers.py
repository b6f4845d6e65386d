"""CRM's customers: companies that arrive over time, each owned by a sales rep."""

import random
from bisect import bisect_left
from dataclasses import dataclass
from datetime import UTC, date, datetime, time

from demo_enterprise import mess, vocab
from demo_enterprise.clock import HISTORY_START, NOW0, some_day, stamp, utc_text
from demo_enterprise.draws import Record, pick, scaled
from demo_enterprise.staff import Staff

CUSTOMERS = 1000  # per unit of scale


@dataclass(slots=True)
class Customer:
    n: int
    company: str
    phone: str | None  # eleven digits, no country code
    phone_style: str
    email: str | None
    email_mixed: bool
    owner: int
    created_at: datetime  # naive UTC
    offset_hours: int  # the time zone its created_at is served in
    modified_at: datetime

    @property
    def id(self) -> str:
        return f"C{self.n:06d}"


def _mobile(rng: random.Random) -> str:
    return f"{rng.choice(vocab.MOBILE_PREFIXES)}{rng.randint(0, 99_999_999):08d}"


class Customers:
    """Every customer in order of creation, so orders pick among those that exist; each is
    owned by a rep of `staff`."""

    def __init__(self, staff: Staff) -> None:
        self._staff = staff
        self.customers: list[Customer] = []
        self._created: list[datetime] = []  # sorted, parallel to customers

    def history(self, rng: random.Random, scale: float) -> None:
        """The customers created before NOW0: most before the order history begins."""
        times = []
        for _ in range(max(1, round(CUSTOMERS * scale))):
            first, last = pick(
                rng, {(date(2021, 1, 1), date(2023, 12, 31)): 0.6, (HISTORY_START, NOW0): 0.4}
            )
            times.append(stamp(rng, some_day(rng, first, last)))
        for created_at in sorted(times):
            self._add(rng, created_at, self._staff.owner_for(rng, created_at.date()))

    def advance(self, rng: random.Random, today: date, scale: float) -> None:
        """One day at CRM: a few customers change their phone, a few new ones arrive."""
        changes = scaled(rng, 1, 3, scale)
        for customer in rng.sample(self.customers, min(changes, len(self.customers))):
            customer.phone = _mobile(rng)
            customer.modified_at = stamp(rng, today)
        arrivals = sorted(stamp(rng, today) for _ in range(scaled(rng, 2, 4, scale)))
        for created_at in arrivals:
            self._add(rng, created_at, self._staff.any_rep(rng))

    def existing_on(self, day: date) -> int:
        """How many customers were created before `day` began."""
        return bisect_left(self._created, datetime.combine(day, time()))

    def _add(self, rng: random.Random, created_at: datetime, owner: int) -> None:
        n = len(self.customers) + 1
        city, (brand, brand_pinyin), industry = (
            rng.choice(vocab.CITIES),
            rng.choice(vocab.BRANDS),
            rng.choice(vocab.INDUSTRIES),
        )
        email = None
        if rng.random() >= 0.05:
            email = f"{rng.choice(vocab.MAILBOXES)}{n}@{brand_pinyin}.example"
        self.customers.append(
            Customer(
                n=n,
                company=f"{city}{brand}{industry}有限公司",
                phone=None if rng.random() < 0.03 else _mobile(rng),
                phone_style=pick(rng, mess.PHONE_STYLES),
                email=email,
                email_mixed=rng.random() < 0.2,
                owner=owner,
                created_at=created_at,
                offset_hours=pick(rng, mess.OFFSETS),
                modified_at=created_at,
            )
        )
        self._created.append(created_at)

    # -- as served, and the truth ---------------------------------------------------------

    def crm_customers(self) -> list[Record]:
        return [
            {
                "id": c.id,
                "company_name": c.company,
                "contact_phone": None if c.phone is None else mess.phone(c.phone, c.phone_style),
                "email": c.email.title() if c.email and c.email_mixed else c.email,
                "owner_user_id": f"u{c.owner}",
                "created_at": mess.local_time(c.created_at, c.offset_hours),
                "modified_at": utc_text(c.modified_at),
            }
            for c in self.customers
        ]

    def truth(self) -> list[Record]:
        return [
            {
                "customer_id": c.id,
                "company_name": c.company,
                "phone_e164": None if c.phone is None else f"+86{c.phone}",
                "email": c.email,
                "owner_employee_id": f"E{c.owner:05d}",
                "created_at_utc": c.created_at.replace(tzinfo=UTC),
            }
            for c in self.customers
        ]
