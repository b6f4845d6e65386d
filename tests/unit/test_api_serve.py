"""The Data API's pure parts: queries as SQL with bound values, cursors, token rotation, the rate
limiter, the snapshot generations a publish swaps, the app registry."""

from __future__ import annotations

import os
from datetime import date
from decimal import Decimal

import duckdb
import pytest

from tributary.contracts.api import load_api
from tributary.contracts.dictionary import load_dictionary
from tributary.serve.apps import AppError, AppStore
from tributary.serve.limits import RateLimiter
from tributary.serve.query import QueryError, encode_cursor, page_sql, parse_query
from tributary.serve.snapshot import CATALOG, Snapshot
from tributary.serve.tokens import Signer, TokenError, new_signing_key
from tributary.settings import PROJECT_ROOT

API = load_api(
    PROJECT_ROOT / "sources",
    PROJECT_ROOT / "dbt_project",
    load_dictionary(PROJECT_ROOT / "sources"),
)
ORDERS = API.datasets["orders"]


def test_filters_become_bound_typed_parameters_and_names_quoted_identifiers():
    items = [("amount_base[gte]", "10.50"), ("status[in]", "a,b"), ("sort", "-order_date")]
    query = parse_query(ORDERS, items, API.page_size)
    sql, params = page_sql(ORDERS, query, "t")
    assert '"amount_base" >= ?' in sql and '"status" in (?, ?)' in sql
    assert 'order by "order_date" desc nulls last, "order_id" asc limit ?' in sql
    assert params == [Decimal("10.50"), "a", "b", API.page_size.default + 1]
    assert "10.50" not in sql and "'a'" not in sql


def test_a_cursor_continues_after_the_last_row_and_rejects_forgeries():
    cursor = encode_cursor(date(2024, 3, 1), 17, "v1", "order_date")
    query = parse_query(ORDERS, [("sort", "order_date"), ("cursor", cursor)], API.page_size)
    assert query.after == (date(2024, 3, 1), 17)
    sql, params = page_sql(ORDERS, query, "t")
    assert (
        '("order_date" > ? or ("order_date" = ? and "order_id" > ?) or "order_date" is null)' in sql
    )
    assert params[:3] == [date(2024, 3, 1), date(2024, 3, 1), 17]
    after_nulls = encode_cursor(None, 17, "", "order_date")
    nulls = parse_query(ORDERS, [("sort", "order_date"), ("cursor", after_nulls)],
                        API.page_size)  # fmt: skip
    assert '("order_date" is null and "order_id" > ?)' in page_sql(ORDERS, nulls, "t")[0]
    forgeries = [
        [("cursor", "%%%")],
        [("cursor", "WzEsMl0")],  # [1, 2]: not this API's shape
        [("cursor", encode_cursor("x", "not-an-int", "", "order_id"))],
        [("cursor", cursor)],  # made for sort=order_date, used without it
        [("sort", "-order_date"), ("cursor", cursor)],  # … or with another
    ]
    for items in forgeries:
        with pytest.raises(QueryError):
            parse_query(ORDERS, items, API.page_size)


@pytest.mark.parametrize(
    "items",
    [[("limit", "0")], [("limit", "1001")], [("fields", "nope")], [("sort", "status")],
     [("sort", "a"), ("sort", "b")], [("fx_rate", "1")], [("order_date", "yesterday")],
     [("status[in]", ",".join(["x"] * 101))], [("status", "x" * 1001)], [("format", "xml")]],
)  # fmt: skip
def test_what_the_dataset_does_not_declare_is_refused(items):
    with pytest.raises(QueryError) as caught:
        parse_query(ORDERS, items, API.page_size)
    assert caught.value.status == 400 and caught.value.detail


def test_rotation_the_previous_key_verifies_until_its_tokens_expire():
    old, new = new_signing_key(), new_signing_key()
    before = Signer(old, None, "urn:i", "urn:a")
    token, _ = before.issue("app", ["read:orders"], 5)
    after = Signer(new, old, "urn:i", "urn:a")
    assert after.verify(token).scopes == {"read:orders"}
    assert [k["kid"] for k in after.jwks["keys"]] == [after.kid, before.kid]
    assert all("d" not in k for k in after.jwks["keys"])  # public halves only
    with pytest.raises(TokenError):
        Signer(new, None, "urn:i", "urn:a").verify(token)  # once the old key is dropped
    with pytest.raises(ValueError, match="keygen"):
        Signer("not a key", None, "urn:i", "urn:a")


def test_the_rate_limiter_refills_at_the_grants_rate():
    now = [0.0]
    limiter = RateLimiter(clock=lambda: now[0])
    assert [limiter.take(("a", "d"), 2) for _ in range(3)] == [0, 0, 30]
    assert limiter.take(("b", "d"), 2) == 0  # per app
    now[0] = 30.0
    assert limiter.take(("a", "d"), 2) == 0


def test_running_requests_keep_the_old_snapshot_new_ones_see_the_new(tmp_path):
    path = tmp_path / "analyst.duckdb"
    for name, value in (("analyst.duckdb", 1), ("new.duckdb", 2)):
        with duckdb.connect(str(tmp_path / name)) as con:
            con.execute("create table t as select ? as v", [value])
    snapshot = Snapshot(path)
    with snapshot.cursor() as running:
        os.replace(tmp_path / "new.duckdb", path)  # what publish does
        with snapshot.cursor() as fresh:
            assert fresh.con.execute(f"select v from {CATALOG}.t").fetchone() == (2,)
        assert running.con.execute(f"select v from {CATALOG}.t").fetchone() == (1,)
    snapshot.close()


def test_apps_secrets_are_hashed_and_grants_expire(tmp_path):
    store = AppStore(tmp_path / "apps.sqlite")
    secret = store.create("bi")
    assert secret not in (tmp_path / "apps.sqlite").read_bytes().decode("latin-1")
    assert store.authenticate("bi", secret) and not store.authenticate("bi", secret + "x")
    store.grant("bi", ["orders"], ["contact"], date(2030, 1, 1), 60)
    assert set(store.grants("bi", date(2029, 12, 31))) == {"orders"}
    assert store.grants("bi", date(2030, 1, 2)) == {}
    store.revoke("bi")
    assert store.grants("bi", date(2029, 1, 1)) == {} and not store.authenticate("bi", secret)
    with pytest.raises(AppError):
        store.create("bi")
    with pytest.raises(AppError):
        store.create("Bad Name; drop")


def test_the_app_commands_show_a_secret_once_and_check_grants(tmp_path, monkeypatch, capsys):
    from tributary.cli import main

    monkeypatch.setenv("TRIBUTARY_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.delenv("TRIBUTARY_API_SIGNING_KEY", raising=False)
    assert main(["api", "app", "create", "bi"]) == 0
    secret = capsys.readouterr().out.splitlines()[-1]
    assert AppStore(tmp_path / "data" / "api" / "apps.sqlite").authenticate("bi", secret)
    grant = ["api", "app", "grant", "bi", "--expires", "2030-01-01"]
    assert main([*grant, "--datasets", "orders,nope"]) == 1
    assert "unknown dataset(s) nope" in capsys.readouterr().err
    assert main([*grant, "--datasets", "customers", "--personal", "compensation"]) == 1
    assert main([*grant, "--datasets", "customers", "--rows", "nope=1"]) == 1
    assert "--rows on customers" in capsys.readouterr().err
    assert main([*grant, "--datasets", "customers", "--rows", "created_at=yesterday"]) == 1
    assert main([*grant, "--datasets", "customers", "--personal", "contact", "--rate", "9",
                 "--rows", "owner_employee_id=E00001,E00002"]) == 0  # fmt: skip
    assert main(["api", "app", "list"]) == 0
    listed = capsys.readouterr().out
    assert "customers until 2030-01-01 at 9/min personal: contact rows: " in listed
    assert '{"owner_employee_id": ["E00001", "E00002"]}' in listed
    assert secret not in listed
    assert main(["api", "app", "revoke", "bi"]) == 0 and main(["api", "app", "revoke", "bi"]) == 1
    with pytest.raises(SystemExit, match="tributary api keygen"):
        main(["serve"])


def test_a_query_past_its_time_limit_is_stopped(tmp_path):
    from tributary.serve.snapshot import QueryTimeout

    path = tmp_path / "analyst.duckdb"
    duckdb.connect(str(path)).close()
    snapshot = Snapshot(path)
    with snapshot.cursor() as reading:
        assert reading.fetch("select 1 as x", [], 5) == (["x"], [(1,)])
        slow = "select count(*) from range(100000000) a, range(1000) b where a.range % 7 = b.range"
        with pytest.raises(QueryTimeout, match="0.2 s"):
            reading.fetch(slow, [], 0.2)
        assert reading.fetch("select 2", [], 5)[1] == [(2,)]  # the cursor still works
    snapshot.close()


def test_the_openapi_description_is_valid_openapi_3_1():
    from openapi_spec_validator import validate
    from openapi_spec_validator.validation import OpenAPIV31SpecValidator

    from tributary.serve.openapi import openapi_spec

    spec = openapi_spec(API)
    validate(spec, cls=OpenAPIV31SpecValidator)  # raises on any mistake
    params = {p["name"] for p in spec["paths"]["/v1/orders"]["get"]["parameters"]}
    assert {"status", "status[in]", "amount_base[gte]", "order_no[like]", "cursor"} <= params
    assert "amount_base[like]" not in params  # like is for text
    salary = spec["components"]["schemas"]["employees"]["properties"]["monthly_salary"]
    assert salary["x-personal-data"] == "compensation" and "string" in salary["type"]


def test_api_diff_names_breaking_changes_and_additions(tmp_path, monkeypatch, capsys):
    import json

    from tributary.cli import main
    from tributary.serve.diff import spec_changes
    from tributary.serve.openapi import openapi_spec

    running = openapi_spec(API)
    assert spec_changes(running, running) == ([], [])
    old = json.loads(json.dumps(running))
    orders = old["components"]["schemas"]["orders"]["properties"]
    orders["gone"] = {"type": ["string", "null"], "x-duckdb-type": "varchar"}
    orders["amount_base"]["x-duckdb-type"] = "double"
    del old["components"]["schemas"]["employees"]
    old["paths"]["/v1/orders"]["get"]["parameters"].append({"name": "legacy", "schema": {}})
    breaking, added = spec_changes(old, running)
    assert breaking == [
        "orders.gone: field removed",
        "orders.amount_base: type double → decimal(18,2)",
        "orders: parameter legacy removed",
    ]
    assert added == ["employees: dataset added"]
    path = tmp_path / "running.json"
    path.write_text(json.dumps(old))
    assert main(["api", "diff", str(path)]) == 1
    out = capsys.readouterr().out
    assert "breaking: orders.gone: field removed" in out and "added: employees" in out
    path.write_text(json.dumps(running))
    assert main(["api", "diff", str(path)]) == 0
    assert "no change" in capsys.readouterr().out


def test_the_key_command_derives_an_sk_that_verifies(tmp_path, monkeypatch, capsys):
    from tributary.cli import main
    from tributary.serve.signing import RequestSigning, SignatureError, canonical, sign

    monkeypatch.setenv("TRIBUTARY_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.delenv("TRIBUTARY_API_AKSK_KEY", raising=False)
    assert main(["api", "app", "create", "s2s"]) == 0
    assert main(["api", "app", "key", "s2s"]) == 1  # no master key: no AK/SK
    assert main(["api", "keygen", "--aksk"]) == 0
    master = capsys.readouterr().out.splitlines()[-1]
    monkeypatch.setenv("TRIBUTARY_API_AKSK_KEY", master)
    assert main(["api", "app", "key", "s2s"]) == 0
    lines = capsys.readouterr().out.splitlines()
    access_key, secret = lines[-2].split("access key ")[1].split(";")[0], lines[-1]
    assert AppStore(tmp_path / "data" / "api" / "apps.sqlite").app_for_key(access_key) == "s2s"
    assert secret not in (tmp_path / "data" / "api" / "apps.sqlite").read_bytes().decode("latin-1")
    now = [1_000_000.0]
    signing = RequestSigning(master, clock=lambda: now[0])
    message = canonical("GET", "/v1/orders", [("b", "2"), ("a", "1")], "1000000", "n" * 16)
    headers = {
        "x-tributary-key": access_key,
        "x-tributary-timestamp": "1000000",
        "x-tributary-nonce": "n" * 16,
        "x-tributary-signature": sign(secret, message),
    }
    assert signing.verify("GET", "/v1/orders", [("a", "1"), ("b", "2")], headers) == access_key
    with pytest.raises(SignatureError, match="replay"):
        signing.verify("GET", "/v1/orders", [("a", "1"), ("b", "2")], headers)
    now[0] += 301
    with pytest.raises(SignatureError, match="timestamp"):
        signing.verify("GET", "/v1/orders", [("a", "1"), ("b", "2")], headers)
