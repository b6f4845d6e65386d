"""ERP's sales: the product catalogue, and orders that ship, get delivered or get cancelled."""

import random
from collections import defaultdict
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from decimal import ROUND_HALF_UP, Decimal

from demo_enterprise import mess, vocab
from demo_enterprise.clock import some_day, stamp
from demo_enterprise.customers import Customer, Customers
from demo_enterprise.draws import Record, pick, poisson
from demo_enterprise.staff import Staff

CENT = Decimal("0.01")
STATUSES = ("pending", "shipped", "delivered", "cancelled")  # canonical; ERP spells them messily
PRODUCTS = 100  # per unit of scale
ORDERS_PER_DAY = 14  # per unit of scale; 731 days of history: about 10,000 orders

Line = tuple[int, int, Decimal]  # (product_id, quantity, unit price)

_PRODUCTS_FROM, _PRODUCTS_TO = date(2023, 1, 1), date(2023, 12, 31)
_LINES = {1: 0.4, 2: 0.3, 3: 0.2, 4: 0.1}
_SHIP_LAGS = {0: 0.30, 1: 0.35, 2: 0.20, 3: 0.15}


def round_half_up(value: Decimal, places: Decimal = CENT) -> Decimal:
    """Commercial rounding; Decimal's default (banker's) rounding is not what invoices use."""
    return value.quantize(places, rounding=ROUND_HALF_UP)


@dataclass(slots=True)
class Product:
    product_id: int
    sku: str
    name: str
    category: str
    list_price: Decimal
    created_at: datetime


@dataclass(frozen=True, slots=True)
class Schedule:
    """When an order is cancelled, or shipped and then delivered, decided when it is placed."""

    cancelled: date | None
    shipped: date | None
    delivered: date | None

    def status_at(self, day: date) -> str:
        if self.cancelled is not None:
            return "cancelled" if day >= self.cancelled else "pending"
        if self.delivered is not None and day >= self.delivered:
            return "delivered"
        if self.shipped is not None and day >= self.shipped:
            return "shipped"
        return "pending"

    def changes_after(self, day: date) -> list[date]:
        """The later dates on which the order's status moves."""
        return [
            d for d in (self.cancelled, self.shipped, self.delivered) if d is not None and d > day
        ]


@dataclass(slots=True)
class Order:
    order_id: int
    order_date: date
    customer: Customer
    emp: int
    created_at: datetime
    lines: list[Line]  # in line order
    anomaly: str | None
    schedule: Schedule
    pay_lag: int | None  # days from invoice to payment; None: never paid
    reexport_lag: int | None  # days until the invoice is exported again; None: never
    status_style: str
    amount_cny: Decimal
    fx_rate: Decimal
    updated_at: datetime
    status: str = "pending"  # set from schedule.status_at() as soon as the order exists

    @property
    def order_no(self) -> str:
        return f"SO-{self.order_date.year}-{self.order_id:06d}"

    @property
    def amount_usd(self) -> Decimal:
        return round_half_up(self.amount_cny * self.fx_rate)


def _product(rng: random.Random, product_id: int) -> Product:
    category = rng.choice(list(vocab.PRODUCT_CATEGORIES))
    prefix, nouns, (low, high) = vocab.PRODUCT_CATEGORIES[category]
    cents = rng.choice(("0.00", "0.50", "0.90", "0.99"))
    model = f"{rng.choice('ABCDKMPSTX')}{rng.choice('ABCDKMPSTX')}-{rng.randint(100, 999)}"
    created = some_day(rng, _PRODUCTS_FROM, _PRODUCTS_TO)
    return Product(
        product_id=product_id,
        sku=f"{prefix}-{product_id:05d}",
        name=f"{rng.choice(nouns)} {model}",
        category=category,
        list_price=Decimal(rng.randint(low, high)) + Decimal(cents),
        created_at=stamp(rng, created),
    )


def _lines(rng: random.Random, products: list[Product]) -> list[Line]:
    """One line per product, at up to 10% off its list price."""
    lines = []
    for product in products:
        discount = Decimal(rng.randint(0, 100)) / 1000
        quantity = rng.randint(1, 10)
        lines.append(
            (product.product_id, quantity, round_half_up(product.list_price * (1 - discount)))
        )
    return lines


def _plant_anomaly(rng: random.Random, lines: list[Line], products: list[Product]) -> str | None:
    """About one order in a hundred gets one absurd line: the outliers mining must find."""
    if rng.random() >= 0.01:
        return None
    anomaly = rng.choice(("quantity", "price"))
    at = rng.randrange(len(lines))
    product_id, quantity, price = lines[at]
    if anomaly == "quantity":
        quantity = rng.randint(100, 400)
    else:
        multiple = Decimal(rng.randint(2000, 8000)) / 100
        price = round_half_up(products[at].list_price * multiple)
    lines[at] = (product_id, quantity, price)
    return anomaly


def _schedule(rng: random.Random, day: date) -> Schedule:
    """5% of orders are cancelled; 10% of shipments never get a delivery confirmation."""
    if rng.random() < 0.05:
        return Schedule(day + timedelta(days=rng.randint(0, 3)), None, None)
    shipped = day + timedelta(days=pick(rng, _SHIP_LAGS))
    if rng.random() < 0.9:
        return Schedule(None, shipped, shipped + timedelta(days=rng.randint(1, 14)))
    return Schedule(None, shipped, None)


class Sales:
    """The catalogue and every order, with the dates on which orders change or ship.

    Orders go to the customers CRM knows by then, sold by their owner or another rep.
    """

    def __init__(self, customers: Customers, staff: Staff) -> None:
        self._customers = customers
        self._staff = staff
        self.products: list[Product] = []
        self.orders: list[Order] = []
        self._transitions: defaultdict[date, list[Order]] = defaultdict(list)
        self._shipping: defaultdict[date, list[Order]] = defaultdict(list)

    def stock(self, rng: random.Random, scale: float) -> None:
        """The catalogue, all created during 2023."""
        for product_id in range(1, max(1, round(PRODUCTS * scale)) + 1):
            self.products.append(_product(rng, product_id))

    def trade(
        self, rng: random.Random, day: date, live: bool, mean: float, fx_rate: Decimal
    ) -> None:
        """One date of sales: orders due to change do, and about `mean` new orders arrive.

        `live` is False while simulating history, whose records keep their creation time as
        updated_at; on advanced days every change gets a fresh updated_at on that day, and at
        least one order comes.
        """
        for order in self._transitions.pop(day, []):
            order.status = order.schedule.status_at(day)
            if live:
                order.updated_at = stamp(rng, day)
        count = poisson(rng, mean)
        for _ in range(max(1, count) if live else count):
            self._add_order(rng, day, fx_rate)

    def shipped_on(self, day: date) -> list[Order]:
        """The orders that ship on `day`, to be invoiced (asked once per day)."""
        return self._shipping.pop(day, [])

    def _add_order(self, rng: random.Random, day: date, fx_rate: Decimal) -> None:
        available = self._customers.existing_on(day)
        customer = self._customers.customers[rng.randrange(available) if available else 0]
        products = rng.sample(self.products, min(len(self.products), pick(rng, _LINES)))
        lines = _lines(rng, products)
        anomaly = _plant_anomaly(rng, lines, products)
        schedule = _schedule(rng, day)
        created_at = stamp(rng, day)
        order = Order(
            order_id=len(self.orders) + 1,
            order_date=day,
            customer=customer,
            emp=self._staff.seller(rng, customer.owner, day),
            created_at=created_at,
            lines=lines,
            anomaly=anomaly,
            schedule=schedule,
            pay_lag=min(90, int(rng.expovariate(1 / 15))) if rng.random() < 0.8 else None,
            reexport_lag=rng.randint(1, 5) if rng.random() < 0.02 else None,
            status_style=pick(rng, mess.STATUS_STYLES),
            amount_cny=sum((quantity * price for _, quantity, price in lines), Decimal("0.00")),
            fx_rate=fx_rate,
            updated_at=created_at,
        )
        order.status = order.schedule.status_at(day)
        self.orders.append(order)
        for when in schedule.changes_after(day):
            self._transitions[when].append(order)
        if schedule.shipped is not None:
            self._shipping[schedule.shipped].append(order)

    # -- as served, and the truth ---------------------------------------------------------

    def erp_tables(self) -> dict[str, list[Record]]:
        """products, sales_reps, orders_<year> (the ERP shards orders by year), order_lines."""
        tables: dict[str, list[Record]] = {
            "products": [_product_row(p) for p in self.products],
            "sales_reps": self._staff.erp_sales_reps(),
        }
        for order in self.orders:
            tables.setdefault(f"orders_{order.order_date.year}", []).append(_order_row(order))
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

    def truth(self) -> list[Record]:
        return [
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
        ]

    def anomalous_order_ids(self) -> frozenset[int]:
        return frozenset(o.order_id for o in self.orders if o.anomaly)


def _product_row(p: Product) -> Record:
    return {
        "product_id": p.product_id,
        "sku": p.sku,
        "product_name": p.name,
        "category": p.category,
        "list_price_cny": p.list_price,
        "updated_at": p.created_at,
    }


def _order_row(order: Order) -> Record:
    return {
        "order_id": order.order_id,
        "order_no": order.order_no,
        "customer_ref": order.customer.id,
        "empNo": order.emp,
        "order_date": order.order_date,
        "status": mess.status(order.status, order.status_style),
        "currency": "CNY",
        "updated_at": order.updated_at,
    }
