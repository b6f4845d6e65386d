"""The finance system's books: invoices when orders ship, payments, a daily CNY rate, and the
daily exports they are written into (some invoices exported twice)."""

import random
from collections import defaultdict
from dataclasses import dataclass
from datetime import date, timedelta
from decimal import Decimal

from demo_enterprise.clock import FX_START
from demo_enterprise.draws import Record
from demo_enterprise.finance import (
    FX_HEADER,
    INVOICE_HEADER,
    PAYMENT_HEADER,
    chinese_date,
    file_name,
    money,
)
from demo_enterprise.sales import Order


@dataclass(slots=True)
class Invoice:
    n: int
    order: Order
    invoice_date: date

    @property
    def id(self) -> str:
        return f"INV-{self.n:06d}"

    def row(self) -> Record:
        """The invoice as the export spells it."""
        order = self.order
        values = (self.id, order.order_no, order.customer.id, money(self.amount_usd))
        return dict(zip(INVOICE_HEADER, (*values, chinese_date(self.invoice_date)), strict=True))

    @property
    def amount_usd(self) -> Decimal:
        """An invoice bills its whole order."""
        return self.order.amount_usd


@dataclass(slots=True)
class Payment:
    """The whole invoice, paid at once."""

    n: int
    invoice: Invoice
    payment_date: date

    def row(self) -> Record:
        paid = (money(self.invoice.amount_usd), chinese_date(self.payment_date))
        return dict(zip(PAYMENT_HEADER, (self.id, self.invoice.id, *paid), strict=True))

    @property
    def id(self) -> str:
        return f"PAY-{self.n:06d}"


class Ledger:
    """Invoices, payments and rates, and every export file by name with its rows."""

    def __init__(self, fx_rng: random.Random) -> None:
        self.invoices: list[Invoice] = []
        self.payments: list[Payment] = []
        self.fx: dict[date, Decimal] = {}
        self.files: dict[str, list[Record]] = {}
        self._payment_due: defaultdict[date, list[Invoice]] = defaultdict(list)
        self._reexport_due: defaultdict[date, list[Invoice]] = defaultdict(list)
        self._fx_rng = fx_rng
        self._fx_level = 0.14

    def open_exports(self, export: date) -> None:
        """Start the day's three export files, empty."""
        for kind in ("invoices", "payments", "fx_rates"):
            self.files[file_name(kind, export)] = []

    def extend_fx(self, until: date) -> None:
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

    def book(self, day: date, export: date, shipped: list[Order]) -> None:
        """One date of bookkeeping, written into the export of `export`: an invoice for each
        order shipped, the payments and the repeated invoices that fall due."""
        invoices = self.files[file_name("invoices", export)]
        for order in shipped:
            invoice = Invoice(len(self.invoices) + 1, order, day)
            self.invoices.append(invoice)
            invoices.append(invoice.row())
            if order.pay_lag is not None:
                self._payment_due[day + timedelta(days=order.pay_lag)].append(invoice)
            if order.reexport_lag is not None:
                self._reexport_due[day + timedelta(days=order.reexport_lag)].append(invoice)
        payments = self.files[file_name("payments", export)]
        for invoice in sorted(self._payment_due.pop(day, []), key=lambda inv: inv.n):
            payment = Payment(len(self.payments) + 1, invoice, day)
            self.payments.append(payment)
            payments.append(payment.row())
        for invoice in sorted(self._reexport_due.pop(day, []), key=lambda inv: inv.n):
            invoices.append(invoice.row())

    # -- the truth ------------------------------------------------------------------------

    def invoice_truth(self) -> list[Record]:
        return [
            {
                "invoice_id": i.id,
                "order_no": i.order.order_no,
                "customer_id": i.order.customer.id,
                "invoice_date": i.invoice_date,
                "amount_usd": i.amount_usd,
            }
            for i in self.invoices
        ]

    def payment_truth(self) -> list[Record]:
        return [
            {
                "payment_id": p.id,
                "invoice_id": p.invoice.id,
                "amount_usd": p.invoice.amount_usd,
                "payment_date": p.payment_date,
            }
            for p in self.payments
        ]
