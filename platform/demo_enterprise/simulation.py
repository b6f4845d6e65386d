"""The demo enterprise for (seed, scale, day): what each system serves, and the truth.

History up to NOW0 (day 0) is simulated date by date, and each advanced day is one more step
of the same simulation, so day d is always day d-1 plus day d's changes. A record draws the
style of its mess (salary format, phone format, status spelling) once, at birth, so an
unchanged record is served identically on every later day. Each purpose has its own
`random.Random`, seeded from (seed, purpose, date), never the global one.
"""

import random
from dataclasses import dataclass
from datetime import date, timedelta
from decimal import Decimal

from demo_enterprise.clock import HISTORY_START, NOW0, now
from demo_enterprise.customers import Customers
from demo_enterprise.draws import Record
from demo_enterprise.ledger import Ledger
from demo_enterprise.sales import ORDERS_PER_DAY, Sales
from demo_enterprise.staff import Staff


@dataclass(frozen=True)
class Truth:
    """What a correct warehouse must end up with: clean, deduplicated, canonical."""

    employees: list[Record]
    customers: list[Record]
    orders: list[Record]
    invoices: list[Record]
    payments: list[Record]
    fx_rates: dict[date, Decimal]
    anomalous_order_ids: frozenset[int]


@dataclass(frozen=True)
class Enterprise:
    """Everything the four systems hold at one day, as served (messy), plus the truth."""

    seed: int
    scale: float
    day: int
    hr_employees: list[Record]
    hr_departments: list[Record]
    crm_users: list[Record]
    crm_customers: list[Record]
    erp_tables: dict[str, list[Record]]
    finance_files: dict[str, list[Record]]
    truth: Truth

    @property
    def now(self) -> date:
        return now(self.day)


def simulate(seed: int = 7, scale: float = 1.0, day: int = 0) -> Enterprise:
    """The enterprise as it stands on `now(day)`; same arguments, same result."""
    if scale <= 0:
        raise ValueError(f"scale must be positive, got {scale}")
    if day < 0:
        raise ValueError(f"day must be 0 or later, got {day}")
    simulation = _Simulation(seed, scale)
    simulation.history()
    for advanced in range(1, day + 1):
        simulation.advance(advanced)
    return simulation.render(day)


class _Simulation:
    """The four systems' state as the clock moves; `render` turns it into an Enterprise."""

    def __init__(self, seed: int, scale: float) -> None:
        self.seed = seed
        self.scale = scale
        self.staff = Staff()
        self.customers = Customers(self.staff)
        self.sales = Sales(self.customers, self.staff)
        self.ledger = Ledger(self._rng("fx"))

    def _rng(self, *purpose: object) -> random.Random:
        # A string seed is hashed with SHA-512: stable across runs and PYTHONHASHSEED.
        return random.Random(":".join(str(part) for part in (self.seed, *purpose)))

    def history(self) -> None:
        """Everything up to NOW0; history records keep their creation time as updated_at."""
        self.ledger.open_exports(NOW0)
        self.ledger.extend_fx(NOW0)
        self.staff.history(self._rng("employees"), self.scale)
        self.sales.stock(self._rng("products"), self.scale)
        self.customers.history(self._rng("customers"), self.scale)
        day = HISTORY_START
        while day <= NOW0:
            self._trade(day, export=NOW0, live=False)
            day += timedelta(days=1)

    def advance(self, day: int) -> None:
        """One more day: changes stamped with an updated_at on that day, and its exports."""
        today = now(day)
        self.ledger.open_exports(today)
        self.ledger.extend_fx(today)
        self.staff.advance(self._rng("hr", day), today, self.scale)
        self.customers.advance(self._rng("crm", day), today, self.scale)
        self._trade(today, export=today, live=True)

    def _trade(self, day: date, export: date, live: bool) -> None:
        """One date of order life (status changes, new orders), then its bookkeeping."""
        rng = self._rng("orders", day.isoformat())
        self.sales.trade(rng, day, live, ORDERS_PER_DAY * self.scale, self.ledger.fx[day])
        self.ledger.book(day, export, self.sales.shipped_on(day))

    def render(self, day: int) -> Enterprise:
        return Enterprise(
            seed=self.seed,
            scale=self.scale,
            day=day,
            hr_employees=self.staff.hr_employees(),
            hr_departments=self.staff.hr_departments(),
            crm_users=self.staff.crm_users(),
            crm_customers=self.customers.crm_customers(),
            erp_tables=self.sales.erp_tables(),
            finance_files=self.ledger.files,
            truth=Truth(
                employees=self.staff.truth(),
                customers=self.customers.truth(),
                orders=self.sales.truth(),
                invoices=self.ledger.invoice_truth(),
                payments=self.ledger.payment_truth(),
                fx_rates=dict(self.ledger.fx),
                anomalous_order_ids=self.sales.anomalous_order_ids(),
            ),
        )
