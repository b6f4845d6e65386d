"""A system the tests did not generate from the demo, onboarded as a user would: a small
business's PostgreSQL database (tests/e2e/smallbiz.py: Hungarian table prefixes, camelCase
columns, first and last names, `total` for the amount, five lookup tables).

`tributary discover` declares its tables, `tributary run smallbiz --only ingest` loads them,
`tributary map suggest --accept` maps them (its accuracy against the fixture's truth is printed
and asserted: of the suggestions at confidence ≥ 0.8, nine in ten right; the lookup tables
proposed as new entities, not forced onto one), `tributary generate` writes the models, and
`tributary run` runs the whole graph: the analyst tables hold the small business's staff,
clients and invoices as it wrote them.
"""

import os
import re
import subprocess
import sys
import uuid
from decimal import Decimal
from pathlib import Path

import duckdb
import pytest
import smallbiz
import yaml

from demo_enterprise import DemoEnterprise
from tributary.contracts.dictionary import Dictionary, load_dictionary
from tributary.contracts.source import load_specs
from tributary.demo_run import environment
from tributary.settings import Settings

SOURCE = """\
# A small business's accounting database, every table of its schema.
name: smallbiz
description: Small business accounting (PostgreSQL) — staff, clients, products, invoices
kind: sql_database
sql_database:
  credentials: ${{SMALLBIZ_URL}}
  schema: {schema}
  discover:
    include: ["*"]
"""
TRIBUTARY = str(Path(sys.executable).with_name("tributary"))
SUGGESTION = re.compile(
    r"^(?P<table>\w+)\.(?P<column>\w+) → (?P<entity>\w+)\.(?P<field>\w+)  "
    r"confidence (?P<confidence>\d\.\d\d)  \(why: .*?\)(  options (?P<options>\{.*?\}))?"
)
TABLE = re.compile(r"^(?P<table>\w+) → (?P<new>new )?entity (?P<entity>\w+)  ")


@pytest.fixture
def smallbiz_project(project: Settings, monkeypatch: pytest.MonkeyPatch, postgres_url: str):
    """The project copy, and the small business in its own PostgreSQL schema (dropped after)."""
    monkeypatch.setenv("SMALLBIZ_URL", postgres_url)
    monkeypatch.setenv("DAGSTER_HOME", str(project.data_dir / "dagster"))  # bare: no dagster.yaml
    schema = f"i_suggest_smallbiz_{uuid.uuid4().hex[:8]}"
    biz = smallbiz.create(postgres_url, schema)
    (project.sources_dir / "smallbiz.yaml").write_text(
        SOURCE.format(schema=schema), encoding="utf-8"
    )
    yield project, biz
    smallbiz.drop(postgres_url, schema)


def tributary(*args: str) -> str:
    """`tributary …` as a user runs it; its output (a failure shows what it printed)."""
    result = subprocess.run(
        [TRIBUTARY, *args], capture_output=True, text=True, timeout=600, env=os.environ.copy()
    )
    assert result.returncode == 0, result.stdout + result.stderr
    return result.stdout


def dbt_parse(settings: Settings) -> None:
    """The project copy's dbt manifest (`make prepare` does this for the checkout)."""
    dbt = Path(sys.executable).with_name("dbt")
    subprocess.run(
        [str(dbt), "parse", "--quiet", "--profiles-dir", "."],
        cwd=settings.dbt_project_dir,
        check=True,
    )


def run_everything(settings: Settings) -> None:
    """`tributary run`: the whole graph (the demo's systems beside the small business), checked
    and published; a blocking check that fails makes it exit non-zero."""
    enterprise = DemoEnterprise(settings.demo_dir, seed=5, scale=0.1)
    with enterprise.serve() as env, environment(env):
        summary = tributary("run")
    assert "run succeeded" in summary, summary


def _truth_of(table: str, column: str, options: str | None) -> str | None:
    fields = smallbiz.TRUTH[table][1]
    joined = re.search(r"join: \[([^\]]*)\]", options or "")
    key = (column, *[c.strip() for c in joined.group(1).split(",")]) if joined else column
    return fields.get(key)


def accuracy(report: str) -> dict:
    """The report scored against the fixture's truth: entities, and fields at ≥ 0.8."""
    entities, fields = {}, []
    for line in report.splitlines():
        if m := TABLE.match(line):
            entities[m["table"]] = smallbiz.NEW if m["new"] else m["entity"]
        elif (m := SUGGESTION.match(line)) and float(m["confidence"]) >= 0.8:
            entity = smallbiz.TRUTH[m["table"]][0]
            right = entity == m["entity"] and _truth_of(m["table"], m["column"], m["options"])
            fields.append(
                (f"{m['table']}.{m['column']} → {m['entity']}.{m['field']}", right == m["field"])
            )
    entity_right = [t for t, (e, _) in smallbiz.TRUTH.items() if entities.get(t, "?") == e]
    truth_fields = sum(len(f) for _, f in smallbiz.TRUTH.values())
    return {
        "entities": (len(entity_right), len(smallbiz.TRUTH)),
        "fields": (sum(r for _, r in fields), len(fields)),
        "recall": (sum(r for _, r in fields), truth_fields),
        "wrong": [s for s, r in fields if not r]
        + [f"{t}: {entities.get(t)}" for t in smallbiz.TRUTH if t not in entity_right],
    }


@pytest.mark.e2e
def test_a_never_seen_database_is_onboarded(smallbiz_project, capsys):
    settings, biz = smallbiz_project
    tributary("discover", "smallbiz")
    tables = set(load_specs(settings.sources_dir)[-1].table_names())
    assert tables >= set(smallbiz.TRUTH), tables

    dbt_parse(settings)  # the Dagster definitions are built from the dbt manifest
    tributary("run", "smallbiz", "--only", "ingest")
    report = tributary("map", "suggest", "smallbiz", "--accept")
    scores = accuracy(report)
    (e_right, e_all), (f_right, f_all), (found, truth_fields) = (
        scores["entities"], scores["fields"], scores["recall"],
    )  # fmt: skip
    with capsys.disabled():
        print(
            f"\nonboarding smallbiz: entities {e_right}/{e_all} right; "
            f"fields at confidence ≥ 0.8 {f_right}/{f_all} right "
            f"({f_right / f_all:.0%}), {found}/{truth_fields} of the truth's fields found"
            + "".join(f"\n  wrong: {w}" for w in scores["wrong"])
        )
    assert f_right / f_all >= 0.9, report
    assert e_right / e_all >= 0.9, report
    # Lookups of an id and a name are proposed as new entities, each a valid dictionary patch.
    proposed = settings.sources_dir / "dictionary" / "proposed"
    for lookup in smallbiz.LOOKUPS:
        assert re.search(rf"^{lookup} → new entity ", report, re.M), report
    patches = {p.stem: yaml.safe_load(p.read_text("utf-8")) for p in proposed.glob("*.yaml")}
    assert {"unit", "country", "category", "payment_method", "invoice_status"} <= set(patches)
    for name, patch in patches.items():
        assert list(Dictionary.model_validate(patch).entities) == [name]
    assert set(patches).isdisjoint(load_dictionary(settings.sources_dir).entities)  # not merged

    mapping = yaml.safe_load((settings.sources_dir / "smallbiz.mapping.yaml").read_text("utf-8"))
    assert mapping["tables"]["tbl_employee"]["fields"]["first_name"] == {
        "to": "full_name",
        "join": ["last_name"],
    }
    assert mapping["tables"]["tbl_invoice"]["fields"]["total"] == {
        "to": "amount",
        "currency_field": "currency_code",
    }
    tributary("generate")
    dbt_parse(settings)
    run_everything(settings)
    check_analyst_tables(settings, biz)


def check_analyst_tables(settings: Settings, biz: smallbiz.SmallBiz) -> None:
    """The published marts hold the small business's people, clients and invoices."""
    with duckdb.connect(str(settings.snapshot), read_only=True) as con:

        def by_key(sql: str) -> dict:
            return {r[0]: r[1:] for r in con.execute(sql).fetchall()}

        employees = by_key(
            "select employee_id, full_name, email, hire_date, source_systems "
            "from marts.dim_employee where list_contains(source_systems, 'smallbiz')"
        )
        customers = by_key(
            "select customer_id, company_name, phone_e164, email from marts.dim_customer "
            "where customer_id in (select cast(unnest(range(501, 513)) as varchar))"
        )
        invoices = by_key(
            "select invoice_id, customer_id, invoice_date, amount, amount_currency "
            "from marts.fct_invoices where not starts_with(invoice_id, 'INV')"
        )
    assert employees == {
        f"E{e['empID']:05d}": (
            f"{e['firstName']} {e['lastName']}",
            e["email"],
            e["hireDate"],
            ["smallbiz"],
        )
        for e in biz.employees
    }
    assert customers == {
        str(c["clientID"]): (c["clientName"], c["phone"], c["contactEmail"]) for c in biz.clients
    }
    assert invoices == {
        str(i["invoiceID"]): (
            str(i["clientID"]),
            i["invoiceDate"],
            Decimal(i["total"]),
            "USD",
        )
        for i in biz.invoices
    }
    assert sum(v[2] for v in invoices.values()) == sum(i["total"] for i in biz.invoices)
