"""The simulation: deterministic, incremental by day, and its served mess consistent with truth."""

import re
import time
from collections import Counter
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal

import pytest

from demo_enterprise import NOW0, STATUSES, Enterprise, now, round_half_up, simulate

SEED, SCALE = 11, 0.2


@pytest.fixture(scope="module")
def days() -> list[Enterprise]:
    return [simulate(SEED, SCALE, day) for day in range(4)]


def _stamp(value: object) -> datetime:
    if isinstance(value, datetime):
        return value.replace(tzinfo=UTC)
    return datetime.fromisoformat(str(value))


def _keyed(ent: Enterprise) -> dict[tuple[str, object], tuple[dict, datetime]]:
    """Every served record of every system by (collection, key), with its change stamp."""
    keyed: dict[tuple[str, object], tuple[dict, datetime]] = {}
    for row in ent.hr_employees:
        keyed["hr", row["staffID"]] = row, _stamp(row["updated_at"])
    for row in ent.crm_users:
        keyed["crm_users", row["user_id"]] = row, _stamp(row["modified_at"])
    for row in ent.crm_customers:
        keyed["crm_customers", row["id"]] = row, _stamp(row["modified_at"])
    for table, rows in ent.erp_tables.items():
        for row in rows:
            key = (
                (row["order_id"], row["line_no"])
                if table == "order_lines"
                else next(iter(row.values()))
            )
            keyed[table, key] = row, _stamp(row["updated_at"])
    return keyed


def test_same_arguments_same_enterprise() -> None:
    assert simulate(SEED, 0.1, 2) == simulate(SEED, 0.1, 2)
    assert simulate(SEED, 0.1, 2) != simulate(SEED + 1, 0.1, 2)


def test_each_day_is_the_previous_day_plus_its_changes(days: list[Enterprise]) -> None:
    changed_orders = 0
    for before, after in zip(days, days[1:], strict=False):
        old, new = _keyed(before), _keyed(after)
        latest_before = max(stamp for _, stamp in old.values())
        assert old.keys() <= new.keys()
        for key, (row, stamp) in new.items():
            if key in old and old[key][0] == row:
                continue
            # A new or changed record is stamped on the new day, after anything earlier.
            assert stamp.date() == after.now, key
            assert stamp > latest_before
            if key in old:
                assert stamp > old[key][1]
                changed_orders += key[0].startswith("orders_")
        # Exports already written never change; the day adds its own three files.
        assert list(after.finance_files)[: len(before.finance_files)] == list(before.finance_files)
        assert all(after.finance_files[name] == rows for name, rows in before.finance_files.items())
        stamp = f"{after.now:%Y%m%d}"
        assert set(after.finance_files) - set(before.finance_files) == {
            f"invoices_{stamp}.csv",
            f"payments_{stamp}.csv",
            f"fx_rates_{stamp}.csv",
        }
        assert after.truth.invoices[: len(before.truth.invoices)] == before.truth.invoices
    assert changed_orders > 0


def test_day_one_opens_the_2026_order_shard(days: list[Enterprise]) -> None:
    assert [t for t in days[0].erp_tables if t.startswith("orders_")] == [
        "orders_2024",
        "orders_2025",
    ]
    assert "orders_2026" in days[1].erp_tables
    assert {r["order_date"] for r in days[1].erp_tables["orders_2026"]} == {date(2026, 1, 1)}
    order_ids = [
        r["order_id"]
        for t, rows in days[3].erp_tables.items()
        if t.startswith("orders_")
        for r in rows
    ]
    assert len(order_ids) == len(set(order_ids))


def test_scale_one_has_the_documented_sizes_and_is_fast() -> None:
    started = time.perf_counter()
    ent = simulate(7, 1.0, 5)
    assert time.perf_counter() - started < 3
    history = [o for o in ent.truth.orders if o["order_date"] <= NOW0]
    assert 180 <= len(ent.hr_employees) <= 215
    assert len(ent.hr_departments) == 12
    assert 0.2 <= len(ent.crm_users) / len(ent.hr_employees) <= 0.4
    assert len(ent.crm_customers) >= 1000
    assert len(ent.erp_tables["products"]) == 100
    assert 9_000 <= len(history) <= 11_000
    assert 0.005 <= len(ent.truth.anomalous_order_ids) / len(ent.truth.orders) <= 0.02
    assert {o["n_lines"] for o in ent.truth.orders} == {1, 2, 3, 4}


def test_orders_truth_adds_up(days: list[Enterprise]) -> None:
    ent = days[3]
    lines: dict[int, list[dict]] = {}
    for line in ent.erp_tables["order_lines"]:
        lines.setdefault(line["order_id"], []).append(line)
    prices = {p["product_id"]: p["list_price_cny"] for p in ent.erp_tables["products"]}
    served = {
        r["order_id"]: r
        for t, rows in ent.erp_tables.items()
        if t.startswith("orders_")
        for r in rows
    }
    for order in ent.truth.orders:
        own = lines[order["order_id"]]
        assert order["amount_cny"] == sum(
            round_half_up(x["quantity"] * x["unit_price_cny"]) for x in own
        )
        assert order["fx_rate"] == ent.truth.fx_rates[order["order_date"]]
        assert order["amount_usd"] == round_half_up(order["amount_cny"] * order["fx_rate"])
        assert (order["n_lines"], order["total_quantity"]) == (
            len(own),
            sum(x["quantity"] for x in own),
        )
        row = served[order["order_id"]]
        assert row["status"].strip().lower() == order["status"]
        assert (row["order_no"], row["customer_ref"], row["currency"]) == (
            order["order_no"],
            order["customer_id"],
            "CNY",
        )
        assert f"E{row['empNo']:05d}" == order["employee_id"]
        odd_quantity = any(x["quantity"] > 10 for x in own)
        odd_price = any(x["unit_price_cny"] >= 20 * prices[x["product_id"]] for x in own)
        kind = "quantity" if odd_quantity else "price" if odd_price else None
        assert order["anomaly_kind"] == kind
        assert order["is_anomaly"] == (order["order_id"] in ent.truth.anomalous_order_ids)
        assert order["is_anomaly"] == (kind is not None)
        if kind is None:
            assert all(
                Decimal("0.9") * prices[x["product_id"]] - Decimal("0.01")
                <= x["unit_price_cny"]
                <= prices[x["product_id"]]
                for x in own
            )
    statuses = Counter(r["status"] for r in served.values())
    assert {s.strip().lower() for s in statuses} == set(STATUSES)
    messy = sum(n for s, n in statuses.items() if s not in STATUSES)
    assert 0.08 <= messy / len(served) <= 0.25


def test_invoices_and_payments_follow_the_orders(days: list[Enterprise]) -> None:
    ent = days[3]
    orders = {o["order_no"]: o for o in ent.truth.orders}
    invoiced = [i["order_no"] for i in ent.truth.invoices]
    assert len(invoiced) == len(set(invoiced))
    assert set(invoiced) == {
        no for no, o in orders.items() if o["status"] in {"shipped", "delivered"}
    }
    for invoice in ent.truth.invoices:
        order = orders[invoice["order_no"]]
        assert 0 <= (invoice["invoice_date"] - order["order_date"]).days <= 3
        assert invoice["invoice_date"] <= ent.now
        assert (invoice["customer_id"], invoice["amount_usd"]) == (
            order["customer_id"],
            order["amount_usd"],
        )
    invoices = {i["invoice_id"]: i for i in ent.truth.invoices}
    for payment in ent.truth.payments:
        invoice = invoices[payment["invoice_id"]]
        assert payment["amount_usd"] == invoice["amount_usd"]
        assert invoice["invoice_date"] <= payment["payment_date"] <= ent.now
    settled = [i for i in ent.truth.invoices if i["invoice_date"] < NOW0 - timedelta(days=120)]
    paid = {p["invoice_id"] for p in ent.truth.payments}
    assert 0.7 <= sum(i["invoice_id"] in paid for i in settled) / len(settled) <= 0.9


def test_fx_rates_are_daily_smooth_and_six_decimals(days: list[Enterprise]) -> None:
    rates = days[3].truth.fx_rates
    assert list(rates) == [
        date(2023, 12, 1) + timedelta(days=i) for i in range((now(3) - date(2023, 12, 1)).days + 1)
    ]
    assert all(Decimal("0.1380") <= r <= Decimal("0.1420") for r in rates.values())
    assert all(r.as_tuple().exponent == -6 for r in rates.values())
    values = list(rates.values())
    assert max(abs(a - b) for a, b in zip(values, values[1:], strict=False)) < Decimal("0.001")


def _salary(text: str) -> Decimal:
    return Decimal(text.replace("¥", "").replace(",", "").strip())


def test_hr_mess_resolves_to_the_truth(days: list[Enterprise]) -> None:
    ent = days[3]
    truth = {e["staff_id"]: e for e in ent.truth.employees}
    styles = Counter()
    for record in ent.hr_employees:
        expected = truth[record["staffID"]]
        assert re.fullmatch(r"S\d{5}", record["staffID"])
        assert expected["employee_id"] == "E" + record["staffID"][1:]
        assert datetime.strptime(record["hireDate"], "%d/%m/%Y").date() == expected["hire_date"]
        assert {"M": "M", "男": "M", "F": "F", "女": "F", None: "U"}[record["gender"]] == (
            expected["gender"]
        )
        assert record["email"].lower() == expected["email"]
        assert re.fullmatch(r"¥[\d,]+\.\d\d|\d+\.\d\d|¥ [\d,]+", record["monthlySalary"])
        assert _salary(record["monthlySalary"]) == expected["monthly_salary_cny"]
        assert record["deptCode"] == expected["department_code"]
        assert record["name"] == expected["name"]
        assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ", record["updated_at"])
        styles[record["monthlySalary"][:2]] += 1
        is_sales = expected["department_code"] == "D01"
        assert (expected["emp_no"], expected["crm_user_id"]) == (
            (int(record["staffID"][1:]), f"u{int(record['staffID'][1:])}")
            if is_sales
            else (None, None)
        )
    assert len(styles) > 2  # all three salary formats occur
    assert [r["staffID"] for r in ent.hr_employees] == sorted(truth)
    reps = {r["empNo"] for r in ent.erp_tables["sales_reps"]}
    users = {r["user_id"] for r in ent.crm_users}
    assert reps == {e["emp_no"] for e in ent.truth.employees if e["emp_no"]}
    assert users == {e["crm_user_id"] for e in ent.truth.employees if e["crm_user_id"]}


def _e164(phone: str | None) -> str | None:
    if phone is None:
        return None
    digits = re.sub(r"\D", "", phone)
    return "+86" + digits[-11:]


def test_crm_mess_resolves_to_the_truth(days: list[Enterprise]) -> None:
    ent = days[3]
    truth = {c["customer_id"]: c for c in ent.truth.customers}
    offsets = set()
    for record in ent.crm_customers:
        expected = truth[record["id"]]
        assert _e164(record["contact_phone"]) == expected["phone_e164"]
        assert (record["email"] and record["email"].lower()) == expected["email"]
        created = datetime.fromisoformat(record["created_at"])
        assert created.tzinfo is not None
        assert created.astimezone(UTC) == expected["created_at_utc"]
        assert expected["created_at_utc"].tzinfo == UTC
        assert "E" + f"{int(record['owner_user_id'][1:]):05d}" == expected["owner_employee_id"]
        offsets.add(record["created_at"][19:])
    assert {"Z", "+08:00", "+01:00"} <= offsets
    phones = [c["contact_phone"] for c in ent.crm_customers if c["contact_phone"]]
    assert any(p.startswith("+86 ") for p in phones) and any("-" in p for p in phones)
    owners = {c["owner_user_id"] for c in ent.crm_customers}
    assert owners <= {u["user_id"] for u in ent.crm_users}


@pytest.mark.parametrize("arguments", [{"scale": 0}, {"day": -1}])
def test_rejects_impossible_arguments(arguments: dict) -> None:
    with pytest.raises(ValueError):
        simulate(**arguments)
