"""A small business's database the demo knows nothing of, for onboarding tests: staff, clients,
products, invoices and their lines, and five lookup tables of an id and a name — written the
way many such systems are: Hungarian table prefixes (`tblClient`, `lkpUnit`), camelCase
columns (`firstName`, `invoiceDate`), a first and a last name, and `total` for the amount.

``create`` writes it into a PostgreSQL schema (deterministic rows) and returns what it wrote;
``TRUTH`` says which table is which entity (or none: a new one) and which column which field,
in the names the raw tables get (dlt's snake_case: `empID` → `emp_id`).
"""

import random
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from decimal import Decimal

import sqlalchemy as sa

NEW = None  # the table is no entity of the dictionary: a new one should be proposed
# table (as `tributary discover` names it) → (entity, {raw column: field}); a derived field
# is keyed by its first column and its `join` columns: ("first_name", "last_name").
TRUTH: dict[str, tuple[str | None, dict]] = {
    "tbl_employee": (
        "employee",
        {
            "emp_id": "employee_id",
            ("first_name", "last_name"): "full_name",
            "email": "email",
            "hire_date": "hire_date",
        },
    ),
    "tbl_client": (
        "customer",
        {
            "client_id": "customer_id",
            "client_name": "company_name",
            "contact_email": "email",
            "phone": "phone_e164",
            "sales_rep_id": "owner_employee_id",
            "created_on": "created_at",
        },
    ),
    "tbl_product": (
        "product",
        {"product_id": "product_id", "product_name": "product_name", "unit_price": "list_price"},
    ),
    "tbl_invoice": (
        "invoice",
        {
            "invoice_id": "invoice_id",
            "client_id": "customer_id",
            "invoice_date": "invoice_date",
            "total": "amount",
        },
    ),
    "tbl_invoice_line": (NEW, {}),
    "lkp_category": (NEW, {}),
    "lkp_payment_method": (NEW, {}),
    "lkp_country": (NEW, {}),
    "lkp_invoice_status": (NEW, {}),
    "lkp_unit": (NEW, {}),
}
LOOKUPS = [t for t in TRUTH if t.startswith("lkp_")]

FIRST = ["Maria", "James", "Aisha", "Tomasz", "Chen", "Olga", "Pedro", "Fatima"]
LAST = ["Lopez", "Walker", "Okafor", "Nowak", "Wei", "Ivanova", "Silva", "Haddad"]
COMPANIES = [
    "Blue Harbor Cafe", "Northside Dental", "Pine & Maple Interiors", "Riverbend Garage",
    "Sunrise Bakery", "Keystone Legal", "Orchard Florists", "Summit Climbing Gym",
    "Lakeside Veterinary", "Copperleaf Books", "Granite Plumbing", "Willow Yoga Studio",
]  # fmt: skip
PRODUCTS = [
    ("Printer paper A4", 1, "7.49"), ("Toner cartridge", 1, "64.90"), ("Desk lamp", 2, "29.95"),
    ("Office chair", 2, "189.00"), ("USB-C hub", 3, "39.99"), ("Wireless mouse", 3, "24.50"),
    ("Monitor 27in", 3, "279.00"), ("Filing cabinet", 2, "149.00"), ("Stapler", 4, "12.25"),
    ("Whiteboard markers", 4, "8.99"),
]  # fmt: skip
LOOKUP_ROWS = {
    "lkpCategory": ("categoryID", "categoryName", ["Paper", "Furniture", "Electronics", "Desk"]),
    "lkpPaymentMethod": ("methodID", "methodName", ["Card", "Bank transfer", "Cash"]),
    "lkpInvoiceStatus": ("statusID", "statusName", ["Draft", "Sent", "Paid"]),
    "lkpUnit": ("unitID", "unitName", ["Piece", "Box", "Pack"]),
}  # fmt: skip
COUNTRIES = [("US", "United States"), ("CA", "Canada"), ("MX", "Mexico"), ("GB", "United Kingdom")]


@dataclass
class SmallBiz:
    """What `create` wrote, for checking the analyst tables against it."""

    employees: list[dict] = field(default_factory=list)
    clients: list[dict] = field(default_factory=list)
    invoices: list[dict] = field(default_factory=list)
    lines: list[dict] = field(default_factory=list)


def _tables(metadata: sa.MetaData) -> dict[str, sa.Table]:
    c, t = sa.Column, sa.Table
    tables = {
        "tblEmployee": t(
            "tblEmployee", metadata, c("empID", sa.Integer, primary_key=True, autoincrement=False),
            c("firstName", sa.String(40)), c("lastName", sa.String(40)), c("email", sa.String(80)),
            c("phone", sa.String(20)), c("hireDate", sa.Date), c("lastModified", sa.DateTime),
        ),
        "tblClient": t(
            "tblClient", metadata, c("clientID", sa.Integer, primary_key=True, autoincrement=False),
            c("clientName", sa.String(80)), c("contactEmail", sa.String(80)),
            c("phone", sa.String(20)), c("salesRepID", sa.Integer), c("createdOn", sa.DateTime),
        ),
        "tblProduct": t(
            "tblProduct", metadata,
            c("productID", sa.Integer, primary_key=True, autoincrement=False),
            c("productName", sa.String(80)), c("categoryID", sa.Integer),
            c("unitPrice", sa.Numeric(10, 2)),
        ),
        "tblInvoice": t(
            "tblInvoice", metadata,
            c("invoiceID", sa.Integer, primary_key=True, autoincrement=False),
            c("clientID", sa.Integer), c("invoiceDate", sa.Date), c("total", sa.Numeric(10, 2)),
            c("currencyCode", sa.String(3)), c("statusID", sa.Integer),
        ),
        "tblInvoiceLine": t(
            "tblInvoiceLine", metadata,
            c("invoiceID", sa.Integer, primary_key=True, autoincrement=False),
            c("lineNo", sa.Integer, primary_key=True, autoincrement=False),
            c("productID", sa.Integer), c("qty", sa.Integer), c("unitPrice", sa.Numeric(10, 2)),
        ),
        "lkpCountry": t(
            "lkpCountry", metadata, c("countryCode", sa.String(2), primary_key=True),
            c("countryName", sa.String(40)),
        ),
    }  # fmt: skip
    for name, (key, label, _) in LOOKUP_ROWS.items():
        tables[name] = t(
            name,
            metadata,
            c(key, sa.Integer, primary_key=True, autoincrement=False),
            c(label, sa.String(40)),
        )
    return tables


def _rows(rng: random.Random, biz: SmallBiz) -> dict[str, list[dict]]:
    for i, (first, last) in enumerate(zip(FIRST, LAST, strict=True)):
        hired = date(2015, 1, 5) + timedelta(days=rng.randint(0, 3000))
        biz.employees.append({
            "empID": 7001 + i, "firstName": first, "lastName": last,
            "email": f"{first}.{last}@smallbiz.example".lower(), "phone": f"+1415555{i:04d}",
            "hireDate": hired, "lastModified": datetime(2025, 6, 1, 9) + timedelta(hours=i),
        })  # fmt: skip
    for i, name in enumerate(COMPANIES):
        biz.clients.append({
            "clientID": 501 + i, "clientName": name,
            "contactEmail": f"office{i}@{name.split()[0].lower()}.example",
            "phone": f"+1212555{i:04d}", "salesRepID": 7001 + rng.randrange(len(FIRST)),
            "createdOn": datetime(2023, 3, 1, 10) + timedelta(days=17 * i),
        })  # fmt: skip
    products = [
        {"productID": 7001 + i, "productName": n, "categoryID": cat, "unitPrice": Decimal(p)}
        for i, (n, cat, p) in enumerate(PRODUCTS)
    ]
    for i in range(30):
        invoice_id, lines = 90001 + i, []
        for line_no in range(1, rng.randint(2, 4) + 1):
            product = rng.choice(products)
            lines.append({
                "invoiceID": invoice_id, "lineNo": line_no, "productID": product["productID"],
                "qty": rng.randint(1, 12), "unitPrice": product["unitPrice"],
            })  # fmt: skip
        biz.lines += lines
        biz.invoices.append({
            "invoiceID": invoice_id, "clientID": rng.choice(biz.clients)["clientID"],
            "invoiceDate": date(2024, 2, 1) + timedelta(days=4 * i),
            "total": sum(line["qty"] * line["unitPrice"] for line in lines),
            "currencyCode": "USD", "statusID": rng.randint(1, 3),
        })  # fmt: skip
    rows = {
        "tblEmployee": biz.employees,
        "tblClient": biz.clients,
        "tblProduct": products,
        "tblInvoice": biz.invoices,
        "tblInvoiceLine": biz.lines,
        "lkpCountry": [{"countryCode": k, "countryName": v} for k, v in COUNTRIES],
    }
    for name, (key, label, values) in LOOKUP_ROWS.items():
        rows[name] = [{key: i + 1, label: v} for i, v in enumerate(values)]
    return rows


def create(url: str, schema: str, seed: int = 13) -> SmallBiz:
    """The small business's tables and rows in a new PostgreSQL schema."""
    engine = sa.create_engine(url)
    metadata = sa.MetaData(schema=schema)
    tables = _tables(metadata)
    biz = SmallBiz()
    rows = _rows(random.Random(seed), biz)
    with engine.begin() as con:
        con.execute(sa.schema.CreateSchema(schema))
        metadata.create_all(con)
        for name, table in tables.items():
            con.execute(table.insert(), rows[name])
    engine.dispose()
    return biz


def drop(url: str, schema: str) -> None:
    engine = sa.create_engine(url)
    with engine.begin() as con:
        con.execute(sa.text(f'drop schema if exists "{schema}" cascade'))
    engine.dispose()
