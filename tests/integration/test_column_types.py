"""Money stays exact: declared column types over REST, long decimals over SQL, DECIMAL staging.

Regression (issue 13): over REST a `numeric(10,2)` total landed as DOUBLE (a sum of
2328.600000000004), and connectorx rounded PostgreSQL decimals of more than 10 places.
"""

import re
import uuid
from decimal import Decimal

import duckdb
import jinja2
import pytest
import sqlalchemy as sa
from rest_zoo import RestZoo
from test_reruns import paged_source, run, source_file

from tributary.contracts.dictionary import CanonicalField
from tributary.contracts.mapping import FieldMap
from tributary.contracts.source import SpecErrors
from tributary.settings import PROJECT_ROOT, Settings
from tributary.standardize.dbt_codegen.staging import conversion

MACROS = PROJECT_ROOT / "dbt_project" / "macros" / "convert.sql"


def query(settings: Settings, sql: str) -> list[tuple]:
    with duckdb.connect(str(settings.warehouse), read_only=True) as con:
        return con.execute(sql).fetchall()


def column_type(settings: Settings, schema: str, table: str, column: str) -> str:
    [(found,)] = query(
        settings,
        "select data_type from information_schema.columns where table_schema = "
        f"'{schema}' and table_name = '{table}' and column_name = '{column}'",
    )
    return found


def staged_money(column: str) -> str:
    """The staging expression of a dictionary `money` field, as `tributary generate` writes it."""
    expression = conversion(
        column, FieldMap(to="amount"), CanonicalField(type="money", description="x")
    )
    # A dbt `test` block is a macro to plain Jinja (as tests/unit/test_conversions.py reads it).
    macros = re.sub(r"\{%(-?)\s*(end)?test\b", r"{%\1 \2macro", MACROS.read_text())
    return jinja2.Environment().from_string(macros + expression).render().strip()


def test_rest_decimals_are_exact_when_declared_and_staged_money_is_decimal(tmp_path, settings):
    pages = "path: invoices, data_selector: data, params: {page_size: 50}"
    spec = paged_source(
        tmp_path,
        "billing",
        f"""
        resources:
          - name: invoices
            primary_key: id
            columns:
              total: decimal(10,2)
            endpoint: {{{pages}}}
          - name: invoices_as_sent   # no declared type: JSON numbers land as DOUBLE
            primary_key: id
            endpoint: {{{pages}}}
        """,
    )
    with RestZoo(240) as zoo:
        run(spec, settings, zoo.env)
        exact = sum(zoo.invoice_totals)
    assert column_type(settings, "raw_billing", "invoices", "total") == "DECIMAL(10,2)"
    assert query(settings, "select sum(total) from raw_billing.invoices") == [(exact,)]
    # Sent as JSON numbers, the floats do not sum to the exact total …
    assert column_type(settings, "raw_billing", "invoices_as_sent", "total") == "DOUBLE"
    [(float_sum,)] = query(settings, "select sum(total) from raw_billing.invoices_as_sent")
    assert Decimal(float_sum) != exact
    # … but a money field of the dictionary is a DECIMAL from staging on, whatever the raw type.
    staged = staged_money("total")
    assert query(
        settings,
        f"select any_value(typeof({staged})), sum({staged}) from raw_billing.invoices_as_sent",
    ) == [("DECIMAL(18,2)", exact)]


RATES = [
    Decimal("12345678.123456789012"),
    Decimal("-0.000000000001"),
    Decimal("99999999.999999999999"),
    Decimal("1.100000000009"),
]


def test_postgres_numeric_20_12_loads_exactly(tmp_path, settings, postgres_url):
    schema = f"i_ingest_{uuid.uuid4().hex[:8]}"
    engine = sa.create_engine(postgres_url)
    with engine.begin() as con:
        con.execute(sa.schema.CreateSchema(schema))
    try:
        rates = sa.Table(
            "rates",
            sa.MetaData(schema=schema),
            sa.Column("id", sa.Integer, primary_key=True, autoincrement=False),
            sa.Column("rate", sa.Numeric(20, 12)),
        )
        with engine.begin() as con:
            rates.create(con)
            con.execute(rates.insert(), [{"id": i, "rate": r} for i, r in enumerate(RATES)])
        spec = source_file(
            tmp_path,
            "fx",
            "sql_database",
            f"""
            credentials: ${{FX_URL}}
            schema: {schema}
            tables:
              - {{name: rates, primary_key: id}}          # merged: read as Arrow batches
              - {{name: rates_copied, table: rates}}     # a first full load: COPY on PostgreSQL
              - name: rates_queried                     # a query's types are declared
                query: select id, rate * 1 as rate from {schema}.rates
                primary_key: id
                columns: {{rate: "decimal(20,12)"}}
            """,
        )
        run(spec, settings, {"FX_URL": postgres_url})
    finally:
        with engine.begin() as con:
            con.execute(sa.schema.DropSchema(schema, cascade=True))
        engine.dispose()
    for table in ("rates", "rates_copied", "rates_queried"):
        assert column_type(settings, "raw_fx", table, "rate") == "DECIMAL(20,12)", table
        found = query(settings, f"select rate from raw_fx.{table} order by id")
        assert [r for (r,) in found] == RATES, table


@pytest.mark.parametrize(
    ("declared", "message"),
    [
        ("decimal(10;2)", "unknown column type 'decimal(10;2)'"),
        ("money", "unknown column type 'money'"),
        ("decimal(5,7)", "scale (digits after the point) at most the precision"),
        ("text(3,1)", "text takes no (precision,scale)"),
    ],
)
def test_a_bad_column_type_is_named_with_its_line(tmp_path, declared, message):
    for kind, section in [
        ("rest_api", "client: {base_url: http://x}\nresources:\n  - name: a\n    columns:"),
        ("sql_database", "credentials: sqlite:///x.db\ntables:\n  - name: a\n    columns:"),
    ]:
        with pytest.raises(SpecErrors) as exc:
            source_file(
                tmp_path, "s", kind, f"{section}\n      ok: bigint\n      total: {declared}"
            )
        [error] = exc.value.errors
        assert message in error.message
        assert error.line == 9  # the `total:` line


def test_a_type_split_by_yaml_flow_style_is_explained(tmp_path):
    section = "credentials: sqlite:///x.db\ntables:\n  - {name: a, columns: {t: decimal(10,2)}}"
    with pytest.raises(SpecErrors) as exc:
        source_file(tmp_path, "s", "sql_database", section)
    [error] = exc.value.errors
    assert 'quote it, e.g. {total: "decimal(10,2)"}' in error.message
    assert error.line == 6
