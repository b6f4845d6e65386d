"""Generate the demo enterprise for (seed, scale, day): what each system serves, and the truth.

History up to NOW0 (day 0) is simulated date by date, and each advanced day is one more step
of the same simulation, so day d is always day d-1 plus day d's changes. A record draws the
style of its mess (salary format, phone format, status spelling) once, at birth, so an
unchanged record is served identically on every later day. Each purpose has its own
`random.Random`, seeded from (seed, purpose, date), never the global one.
"""

import math
import random
from bisect import bisect_left, bisect_right
from collections import defaultdict
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta, timezone
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

from demo_enterprise import vocab
from demo_enterprise.finance import FX_HEADER, chinese_date, file_name, money

Record = dict[str, Any]

NOW0 = date(2025, 12, 31)
HISTORY_START = date(2024, 1, 1)
FX_START = date(2023, 12, 1)
SALES = "D01"
CENT = Decimal("0.01")
STATUSES = ("pending", "shipped", "delivered", "cancelled")  # canonical; ERP spells them messily

# Rates per unit of scale.
EMPLOYEES = 200
CUSTOMERS = 1000
PRODUCTS = 100
ORDERS_PER_DAY = 14  # 731 days of history: about 10,000 orders

_DEPARTMENTS_CREATED = datetime(2020, 1, 1, 8, 0)
_PRODUCTS_FROM, _PRODUCTS_TO = date(2023, 1, 1), date(2023, 12, 31)
_BUSINESS_HOURS = (6 * 3600, 22 * 3600)  # UTC seconds in which things happen


def now(day: int) -> date:
    """The demo clock: day 0 is NOW0 and each advance adds whole days."""
    return NOW0 + timedelta(days=day)


def round_half_up(value: Decimal, places: Decimal = CENT) -> Decimal:
    """Commercial rounding; Decimal's default (banker's) rounding is not what invoices use."""
    return value.quantize(places, rounding=ROUND_HALF_UP)


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


def generate(seed: int = 7, scale: float = 1.0, day: int = 0) -> Enterprise:
    """Build the enterprise as it stands on `now(day)`; same arguments, same result."""
    if scale <= 0:
        raise ValueError(f"scale must be positive, got {scale}")
    if day < 0:
        raise ValueError(f"day must be 0 or later, got {day}")
    world = _World(seed, scale)
    world.history()
    for advanced in range(1, day + 1):
        world.advance(advanced)
    return world.render(day)


def _z(moment: datetime) -> str:
    return moment.strftime("%Y-%m-%dT%H:%M:%SZ")


def _stamp(rng: random.Random, day: date) -> datetime:
    """A moment (naive UTC) during business hours on `day`."""
    return datetime.combine(day, time()) + timedelta(seconds=rng.randint(*_BUSINESS_HOURS))


def _some_day(rng: random.Random, first: date, last: date) -> date:
    return first + timedelta(days=rng.randint(0, (last - first).days))


def _pick(rng: random.Random, weighted: dict[Any, float]) -> Any:
    return rng.choices(list(weighted), weights=list(weighted.values()))[0]


def _poisson(rng: random.Random, mean: float) -> int:
    """Knuth's method: a day's order count varies around its mean."""
    limit, count, product = math.exp(-mean), 0, rng.random()
    while product > limit:
        count += 1
        product *= rng.random()
    return count


def _scaled(rng: random.Random, low: int, high: int, scale: float) -> int:
    """A small daily count from low..high at scale 1, never below one."""
    return max(1, round(rng.randint(low, high) * scale))


def _mobile(rng: random.Random) -> str:
    return f"{rng.choice(vocab.MOBILE_PREFIXES)}{rng.randint(0, 99_999_999):08d}"


def _salary(rng: random.Random, dept: str) -> Decimal:
    low, high = vocab.SALARY_BANDS.get(dept, vocab.DEFAULT_SALARY_BAND)
    return Decimal(rng.randint(low // 100, high // 100) * 100)


@dataclass(slots=True)
class _Employee:
    n: int
    surname: tuple[str, str]
    given: tuple[str, str, str]
    served_in_hanzi: bool
    gender_style: str  # "latin" (M/F), "hanzi" (男/女) or "null"
    hire_date: date
    dept: str
    region: str
    salary: Decimal
    salary_style: str
    email_style: str
    created_at: datetime
    updated_at: datetime

    @property
    def hanzi(self) -> str:
        return self.surname[0] + self.given[0]

    @property
    def pinyin(self) -> str:
        return f"{self.surname[1].title()} {self.given[1].title()}"

    @property
    def name(self) -> str:
        return self.hanzi if self.served_in_hanzi else self.pinyin

    @property
    def email(self) -> str:
        return f"{self.surname[1]}.{self.given[1]}{self.n}@corp.example"

    @property
    def is_sales(self) -> bool:
        return self.dept == SALES


@dataclass(slots=True)
class _Customer:
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


@dataclass(slots=True)
class _Product:
    product_id: int
    sku: str
    name: str
    category: str
    list_price: Decimal
    created_at: datetime


@dataclass(slots=True)
class _Order:
    order_id: int
    order_date: date
    customer: _Customer
    emp: int
    created_at: datetime
    lines: list[tuple[int, int, Decimal]]  # (product_id, quantity, unit price), in line order
    anomaly: str | None
    cancel_date: date | None
    ship_date: date | None
    deliver_date: date | None
    pay_lag: int | None  # days from invoice to payment; None: never paid
    reexport_lag: int | None  # days until the invoice is exported again; None: never
    status_style: str
    amount_cny: Decimal
    fx_rate: Decimal
    updated_at: datetime
    status: str = "pending"  # set from status_at() as soon as the order exists

    @property
    def order_no(self) -> str:
        return f"SO-{self.order_date.year}-{self.order_id:06d}"

    @property
    def amount_usd(self) -> Decimal:
        return round_half_up(self.amount_cny * self.fx_rate)

    def status_at(self, day: date) -> str:
        if self.cancel_date is not None:
            return "cancelled" if day >= self.cancel_date else "pending"
        if self.deliver_date is not None and day >= self.deliver_date:
            return "delivered"
        if self.ship_date is not None and day >= self.ship_date:
            return "shipped"
        return "pending"


@dataclass(slots=True)
class _Invoice:
    n: int
    order: _Order
    invoice_date: date

    @property
    def id(self) -> str:
        return f"INV-{self.n:06d}"

    def row(self) -> Record:
        return {
            "发票号": self.id,
            "订单号": self.order.order_no,
            "客户编号": self.order.customer.id,
            "金额(USD)": money(self.order.amount_usd),
            "日期": chinese_date(self.invoice_date),
        }


@dataclass(slots=True)
class _Payment:
    n: int
    invoice: _Invoice
    payment_date: date

    def row(self) -> Record:
        return {
            "付款单号": f"PAY-{self.n:06d}",
            "发票号": self.invoice.id,
            "金额(USD)": money(self.invoice.order.amount_usd),
            "付款日期": chinese_date(self.payment_date),
        }


_GENDER_STYLES = {"latin": 0.6, "hanzi": 0.37, "null": 0.03}
_SALARY_STYLES = {"yuan": 0.85, "plain": 0.10, "spaced": 0.05}
_EMAIL_STYLES = {"lower": 0.90, "upper": 0.05, "mixed": 0.05}
_PHONE_STYLES = {"plain": 0.4, "spaced": 0.2, "dashed": 0.2, "e164": 0.2}
_OFFSETS = {8: 0.5, 0: 0.35, 1: 0.15}
_STATUS_STYLES = {"clean": 0.85, "upper": 0.05, "title_lead": 0.05, "trail": 0.05}
_SHIP_LAGS = {0: 0.30, 1: 0.35, 2: 0.20, 3: 0.15}


class _World:
    """The mutable state of the simulation; `render` turns it into an Enterprise."""

    def __init__(self, seed: int, scale: float) -> None:
        self.seed = seed
        self.scale = scale
        self.employees: list[_Employee] = []
        self.sales_hire_dates: list[date] = []  # sorted, parallel to sales_by_hire
        self.sales_by_hire: list[int] = []
        self.customers: list[_Customer] = []
        self.customer_times: list[datetime] = []  # sorted creation times, parallel to customers
        self.products: list[_Product] = []
        self.orders: list[_Order] = []
        self.invoices: list[_Invoice] = []
        self.payments: list[_Payment] = []
        self.fx: dict[date, Decimal] = {}
        self.files: dict[str, list[Record]] = {}
        self.transitions: defaultdict[date, list[_Order]] = defaultdict(list)
        self.invoice_due: defaultdict[date, list[_Order]] = defaultdict(list)
        self.payment_due: defaultdict[date, list[_Invoice]] = defaultdict(list)
        self.reexport_due: defaultdict[date, list[_Invoice]] = defaultdict(list)
        self._fx_rng = self._rng("fx")
        self._fx_level = 0.14

    def _rng(self, *purpose: object) -> random.Random:
        # A string seed is hashed with SHA-512: stable across runs and PYTHONHASHSEED.
        return random.Random(":".join(str(part) for part in (self.seed, *purpose)))

    # -- the simulation ------------------------------------------------------------------

    def history(self) -> None:
        """Everything up to NOW0; history records keep their creation time as updated_at."""
        self._open_exports(NOW0)
        self._extend_fx(NOW0)
        self._history_employees()
        self._products()
        self._history_customers()
        day = HISTORY_START
        while day <= NOW0:
            self._orders_step(day, export=NOW0, live=False)
            day += timedelta(days=1)

    def advance(self, day: int) -> None:
        """One more day: changes stamped with an updated_at on that day, and its exports."""
        today = now(day)
        self._open_exports(today)
        self._extend_fx(today)
        rng = self._rng("hr", day)
        for employee in self.employees:
            if rng.random() < 0.01:
                raised = employee.salary * (100 + rng.randint(3, 15)) / 10_000
                employee.salary = raised.quantize(Decimal(1), rounding=ROUND_HALF_UP) * 100
                employee.updated_at = _stamp(rng, today)
        for _ in range(_scaled(rng, 1, 2, self.scale)):
            self._add_employee(
                rng, len(self.employees) + 1, self._department(rng), today, _stamp(rng, today)
            )
        rng = self._rng("crm", day)
        changes = _scaled(rng, 1, 3, self.scale)
        for customer in rng.sample(self.customers, min(changes, len(self.customers))):
            customer.phone = _mobile(rng)
            customer.modified_at = _stamp(rng, today)
        arrivals = sorted(_stamp(rng, today) for _ in range(_scaled(rng, 2, 4, self.scale)))
        for created_at in arrivals:
            self._add_customer(rng, created_at, rng.choice(self.sales_by_hire))
        self._orders_step(today, export=today, live=True)

    def _department(self, rng: random.Random) -> str:
        if rng.random() < 0.3:
            return SALES
        return rng.choice(vocab.DEPARTMENTS[1:])[0]

    def _add_employee(
        self, rng: random.Random, n: int, dept: str, hire_date: date, created_at: datetime
    ) -> None:
        employee = _Employee(
            n=n,
            surname=rng.choice(vocab.SURNAMES),
            given=rng.choice(vocab.GIVEN_NAMES),
            served_in_hanzi=rng.random() < 0.5,
            gender_style=_pick(rng, _GENDER_STYLES),
            hire_date=hire_date,
            dept=dept,
            region=rng.choice(vocab.SALES_REGIONS),
            salary=_salary(rng, dept),
            salary_style=_pick(rng, _SALARY_STYLES),
            email_style=_pick(rng, _EMAIL_STYLES),
            created_at=created_at,
            updated_at=created_at,
        )
        self.employees.append(employee)
        if employee.is_sales:
            at = bisect_right(self.sales_hire_dates, hire_date)
            self.sales_hire_dates.insert(at, hire_date)
            self.sales_by_hire.insert(at, n)

    def _history_employees(self) -> None:
        rng = self._rng("employees")
        for n in range(1, max(1, round(EMPLOYEES * self.scale)) + 1):
            if n == 1:  # an early sales hire, so every order date has a rep to sell it
                dept, first, last = SALES, date(2012, 1, 1), date(2019, 12, 31)
            elif rng.random() < 0.75:
                dept, first, last = self._department(rng), date(2012, 1, 1), date(2023, 12, 31)
            else:
                dept, first, last = self._department(rng), HISTORY_START, NOW0
            hire_date = _some_day(rng, first, last)
            self._add_employee(rng, n, dept, hire_date, _stamp(rng, hire_date))

    def _products(self) -> None:
        rng = self._rng("products")
        categories = list(vocab.PRODUCT_CATEGORIES)
        for product_id in range(1, max(1, round(PRODUCTS * self.scale)) + 1):
            category = rng.choice(categories)
            prefix, nouns, (low, high) = vocab.PRODUCT_CATEGORIES[category]
            cents = rng.choice(("0.00", "0.50", "0.90", "0.99"))
            model = f"{rng.choice('ABCDKMPSTX')}{rng.choice('ABCDKMPSTX')}-{rng.randint(100, 999)}"
            created = _some_day(rng, _PRODUCTS_FROM, _PRODUCTS_TO)
            self.products.append(
                _Product(
                    product_id=product_id,
                    sku=f"{prefix}-{product_id:05d}",
                    name=f"{rng.choice(nouns)} {model}",
                    category=category,
                    list_price=Decimal(rng.randint(low, high)) + Decimal(cents),
                    created_at=_stamp(rng, created),
                )
            )

    def _history_customers(self) -> None:
        rng = self._rng("customers")
        times = []
        for _ in range(max(1, round(CUSTOMERS * self.scale))):
            first, last = _pick(
                rng, {(date(2021, 1, 1), date(2023, 12, 31)): 0.6, (HISTORY_START, NOW0): 0.4}
            )
            times.append(_stamp(rng, _some_day(rng, first, last)))
        for created_at in sorted(times):
            hired = bisect_right(self.sales_hire_dates, created_at.date()) or 1
            self._add_customer(rng, created_at, self.sales_by_hire[rng.randrange(hired)])

    def _add_customer(self, rng: random.Random, created_at: datetime, owner: int) -> None:
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
            _Customer(
                n=n,
                company=f"{city}{brand}{industry}有限公司",
                phone=None if rng.random() < 0.03 else _mobile(rng),
                phone_style=_pick(rng, _PHONE_STYLES),
                email=email,
                email_mixed=rng.random() < 0.2,
                owner=owner,
                created_at=created_at,
                offset_hours=_pick(rng, _OFFSETS),
                modified_at=created_at,
            )
        )
        self.customer_times.append(created_at)

    def _seller(self, rng: random.Random, customer: _Customer, day: date) -> int:
        """The customer's owner, or any rep already hired when the owner was not yet."""
        if self.employees[customer.owner - 1].hire_date <= day:
            return customer.owner
        hired = bisect_right(self.sales_hire_dates, day)
        return self.sales_by_hire[rng.randrange(hired)] if hired else customer.owner

    def _orders_step(self, day: date, export: date, live: bool) -> None:
        """One date of order life: status changes, new orders, invoices, payments, re-exports.

        `live` is False while simulating history, whose records keep their creation time as
        updated_at; on advanced days every change gets a fresh updated_at on that day.
        """
        rng = self._rng("orders", day.isoformat())
        for order in self.transitions.pop(day, []):
            order.status = order.status_at(day)
            if live:
                order.updated_at = _stamp(rng, day)
        count = _poisson(rng, ORDERS_PER_DAY * self.scale)
        for _ in range(max(1, count) if live else count):
            self._add_order(rng, day)
        invoices = self.files[file_name("invoices", export)]
        for order in self.invoice_due.pop(day, []):
            invoice = _Invoice(len(self.invoices) + 1, order, day)
            self.invoices.append(invoice)
            invoices.append(invoice.row())
            if order.pay_lag is not None:
                self.payment_due[day + timedelta(days=order.pay_lag)].append(invoice)
            if order.reexport_lag is not None:
                self.reexport_due[day + timedelta(days=order.reexport_lag)].append(invoice)
        payments = self.files[file_name("payments", export)]
        for invoice in sorted(self.payment_due.pop(day, []), key=lambda inv: inv.n):
            payment = _Payment(len(self.payments) + 1, invoice, day)
            self.payments.append(payment)
            payments.append(payment.row())
        for invoice in sorted(self.reexport_due.pop(day, []), key=lambda inv: inv.n):
            invoices.append(invoice.row())

    def _add_order(self, rng: random.Random, day: date) -> None:
        available = bisect_left(self.customer_times, datetime.combine(day, time()))
        customer = self.customers[rng.randrange(available) if available else 0]
        products = rng.sample(
            self.products, min(len(self.products), _pick(rng, {1: 0.4, 2: 0.3, 3: 0.2, 4: 0.1}))
        )
        lines = []
        for product in products:
            discount = Decimal(rng.randint(0, 100)) / 1000
            lines.append(
                (
                    product.product_id,
                    rng.randint(1, 10),
                    round_half_up(product.list_price * (1 - discount)),
                )
            )
        anomaly = None
        if rng.random() < 0.01:
            anomaly = rng.choice(("quantity", "price"))
            at = rng.randrange(len(lines))
            product_id, quantity, price = lines[at]
            if anomaly == "quantity":
                quantity = rng.randint(100, 400)
            else:
                multiple = Decimal(rng.randint(2000, 8000)) / 100
                price = round_half_up(products[at].list_price * multiple)
            lines[at] = (product_id, quantity, price)
        cancel_date = ship_date = deliver_date = None
        if rng.random() < 0.05:
            cancel_date = day + timedelta(days=rng.randint(0, 3))
        else:
            ship_date = day + timedelta(days=_pick(rng, _SHIP_LAGS))
            if rng.random() < 0.9:  # the rest never get a delivery confirmation
                deliver_date = ship_date + timedelta(days=rng.randint(1, 14))
        created_at = _stamp(rng, day)
        order = _Order(
            order_id=len(self.orders) + 1,
            order_date=day,
            customer=customer,
            emp=self._seller(rng, customer, day),
            created_at=created_at,
            lines=lines,
            anomaly=anomaly,
            cancel_date=cancel_date,
            ship_date=ship_date,
            deliver_date=deliver_date,
            pay_lag=min(90, int(rng.expovariate(1 / 15))) if rng.random() < 0.8 else None,
            reexport_lag=rng.randint(1, 5) if rng.random() < 0.02 else None,
            status_style=_pick(rng, _STATUS_STYLES),
            amount_cny=sum((quantity * price for _, quantity, price in lines), Decimal("0.00")),
            fx_rate=self.fx[day],
            updated_at=created_at,
        )
        order.status = order.status_at(day)
        self.orders.append(order)
        for when in (cancel_date, ship_date, deliver_date):
            if when is not None and when > day:
                self.transitions[when].append(order)
        if ship_date is not None:
            self.invoice_due[ship_date].append(order)

    def _open_exports(self, export: date) -> None:
        for kind in ("invoices", "payments", "fx_rates"):
            self.files[file_name(kind, export)] = []

    def _extend_fx(self, until: date) -> None:
        """A smooth, mean-reverting random walk of USD per CNY, one step per calendar day.

        The new days' rates go into the export of `until`.
        """
        day = max(self.fx, default=FX_START - timedelta(days=1)) + timedelta(days=1)
        rows = self.files[file_name("fx_rates", until)]
        while day <= until:
            step = 0.08 * (0.14 - self._fx_level) + self._fx_rng.gauss(0, 0.00018)
            self._fx_level = min(0.1419, max(0.1381, self._fx_level + step))
            rate = Decimal(f"{self._fx_level:.6f}")
            self.fx[day] = rate
            rows.append(dict(zip(FX_HEADER, (day.isoformat(), "CNY", f"{rate:.6f}"), strict=True)))
            day += timedelta(days=1)

    # -- rendering -----------------------------------------------------------------------

    def render(self, day: int) -> Enterprise:
        return Enterprise(
            seed=self.seed,
            scale=self.scale,
            day=day,
            hr_employees=[_hr_employee(e) for e in self.employees],
            hr_departments=[
                {
                    "deptCode": code,
                    "deptName": name,
                    "deptNameZh": name_zh,
                    "updated_at": _z(_DEPARTMENTS_CREATED),
                }
                for code, name, name_zh in vocab.DEPARTMENTS
            ],
            crm_users=[
                {
                    "user_id": f"u{e.n}",
                    "full_name": e.pinyin,
                    "email": e.email,
                    "modified_at": _z(e.created_at),
                }
                for e in self.employees
                if e.is_sales
            ],
            crm_customers=[_crm_customer(c) for c in self.customers],
            erp_tables=self._erp_tables(),
            finance_files=self.files,
            truth=self._truth(),
        )

    def _erp_tables(self) -> dict[str, list[Record]]:
        tables: dict[str, list[Record]] = {
            "products": [
                {
                    "product_id": p.product_id,
                    "sku": p.sku,
                    "product_name": p.name,
                    "category": p.category,
                    "list_price_cny": p.list_price,
                    "updated_at": p.created_at,
                }
                for p in self.products
            ],
            "sales_reps": [
                {"empNo": e.n, "rep_name": e.hanzi, "region": e.region, "updated_at": e.created_at}
                for e in self.employees
                if e.is_sales
            ],
        }
        for order in self.orders:
            tables.setdefault(f"orders_{order.order_date.year}", []).append(
                {
                    "order_id": order.order_id,
                    "order_no": order.order_no,
                    "customer_ref": order.customer.id,
                    "empNo": order.emp,
                    "order_date": order.order_date,
                    "status": _styled_status(order.status, order.status_style),
                    "currency": "CNY",
                    "updated_at": order.updated_at,
                }
            )
        tables["order_lines"] = [
            {
                "order_id": order.order_id,
                "line_no": line_no,
                "product_id": product_id,
                "quantity": quantity,
                "unit_price_cny": price,
                "updated_at": order.created_at,
            }
            for order in self.orders
            for line_no, (product_id, quantity, price) in enumerate(order.lines, start=1)
        ]
        return tables

    def _truth(self) -> Truth:
        return Truth(
            employees=[
                {
                    "employee_id": f"E{e.n:05d}",
                    "staff_id": f"S{e.n:05d}",
                    "emp_no": e.n if e.is_sales else None,
                    "crm_user_id": f"u{e.n}" if e.is_sales else None,
                    "name": e.name,
                    "gender": "U" if e.gender_style == "null" else e.given[2],
                    "hire_date": e.hire_date,
                    "department_code": e.dept,
                    "monthly_salary_cny": e.salary,
                    "email": e.email,
                }
                for e in self.employees
            ],
            customers=[
                {
                    "customer_id": c.id,
                    "company_name": c.company,
                    "phone_e164": None if c.phone is None else f"+86{c.phone}",
                    "email": c.email,
                    "owner_employee_id": f"E{c.owner:05d}",
                    "created_at_utc": c.created_at.replace(tzinfo=UTC),
                }
                for c in self.customers
            ],
            orders=[
                {
                    "order_id": o.order_id,
                    "order_no": o.order_no,
                    "order_date": o.order_date,
                    "customer_id": o.customer.id,
                    "employee_id": f"E{o.emp:05d}",
                    "status": o.status,
                    "amount_cny": o.amount_cny,
                    "fx_rate": o.fx_rate,
                    "amount_usd": o.amount_usd,
                    "n_lines": len(o.lines),
                    "total_quantity": sum(quantity for _, quantity, _ in o.lines),
                    "is_anomaly": o.anomaly is not None,
                    "anomaly_kind": o.anomaly,
                }
                for o in self.orders
            ],
            invoices=[
                {
                    "invoice_id": i.id,
                    "order_no": i.order.order_no,
                    "customer_id": i.order.customer.id,
                    "invoice_date": i.invoice_date,
                    "amount_usd": i.order.amount_usd,
                }
                for i in self.invoices
            ],
            payments=[
                {
                    "payment_id": f"PAY-{p.n:06d}",
                    "invoice_id": p.invoice.id,
                    "amount_usd": p.invoice.order.amount_usd,
                    "payment_date": p.payment_date,
                }
                for p in self.payments
            ],
            fx_rates=dict(self.fx),
            anomalous_order_ids=frozenset(o.order_id for o in self.orders if o.anomaly),
        )


def _hr_employee(e: _Employee) -> Record:
    gender = {"latin": e.given[2], "hanzi": {"M": "男", "F": "女"}[e.given[2]], "null": None}
    salary = {
        "yuan": f"¥{e.salary:,.2f}",
        "plain": f"{e.salary:.2f}",
        "spaced": f"¥ {int(e.salary):,}",
    }
    email = {"lower": e.email, "upper": e.email.upper(), "mixed": e.email.title()}
    return {
        "staffID": f"S{e.n:05d}",
        "name": e.name,
        "gender": gender[e.gender_style],
        "hireDate": e.hire_date.strftime("%d/%m/%Y"),
        "deptCode": e.dept,
        "email": email[e.email_style],
        "monthlySalary": salary[e.salary_style],
        "updated_at": _z(e.updated_at),
    }


def _crm_customer(c: _Customer) -> Record:
    phone = None
    if c.phone is not None:
        p = c.phone
        phone = {
            "plain": p,
            "spaced": f"+86 {p[:3]} {p[3:7]} {p[7:]}",
            "dashed": f"{p[:3]}-{p[3:7]}-{p[7:]}",
            "e164": f"+86{p}",
        }[c.phone_style]
    local = c.created_at.replace(tzinfo=UTC).astimezone(timezone(timedelta(hours=c.offset_hours)))
    created = _z(c.created_at) if c.offset_hours == 0 else local.isoformat(timespec="seconds")
    return {
        "id": c.id,
        "company_name": c.company,
        "contact_phone": phone,
        "email": c.email.title() if c.email and c.email_mixed else c.email,
        "owner_user_id": f"u{c.owner}",
        "created_at": created,
        "modified_at": _z(c.modified_at),
    }


def _styled_status(status: str, style: str) -> str:
    return {
        "clean": status,
        "upper": status.upper(),
        "title_lead": f" {status.title()}",
        "trail": f"{status} ",
    }[style]
