"""The Data API over a real snapshot, served by uvicorn on loopback: paging reaches exactly the
snapshot's rows, filters agree with DuckDB, personal fields are masked without their scope, a
publish is seen by the next request, and every call is audited."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
import time
from datetime import date

import duckdb
import pytest
import requests
from tests.integration.api_server import ROWS, SECRETS, api, free_port, get, publish, token

from tributary.settings import Settings

__all__ = ["api"]  # this module's server (a fixture)


def snapshot_rows(settings, sql: str, params=()) -> list[tuple]:
    with duckdb.connect(str(settings.snapshot), read_only=True) as con:
        return con.execute(sql, list(params)).fetchall()


def page_through(url: str, bearer: str, path: str, **params) -> list[dict]:
    rows, pages = [], 0
    response = get(url, path, bearer, **params)
    while True:
        assert response.status_code == 200, response.text
        body = response.json()
        rows += body["data"]
        pages += 1
        if body["next"] is None:
            assert "Link" not in response.headers
            return rows
        assert response.headers["Link"] == f'<{body["next"]}>; rel="next"'
        response = requests.get(
            body["next"], headers={"Authorization": f"Bearer {bearer}"}, timeout=10
        )


@pytest.mark.parametrize(
    ("dataset", "model", "key", "sort"),
    [
        ("orders", "fct_orders", "order_id", None),
        ("orders", "fct_orders", "order_id", "order_date"),  # nulls and ties: the id breaks them
        ("orders", "fct_orders", "order_id", "-amount_base"),
        ("orders", "fct_orders", "order_id", "-order_id"),
        ("customers", "dim_customer", "customer_id", "company_name"),
        ("employees", "dim_employee", "employee_id", None),
    ],
)
def test_paging_reaches_exactly_the_snapshots_rows(api, dataset, model, key, sort):
    settings, url = api
    params = {"limit": 97, **({"sort": sort} if sort else {})}
    rows = page_through(url, token(url), f"/v1/{dataset}", **params)
    ids = [r[key] for r in rows]
    assert len(ids) == len(set(ids)) == ROWS[model]  # no gap, no duplicate
    expected = {str(r[0]) for r in snapshot_rows(settings, f"select {key} from marts.{model}")}
    assert {str(i) for i in ids} == expected
    if sort and sort.lstrip("-") != key:
        field = sort.lstrip("-")
        values = [r[field] for r in rows if r[field] is not None]
        assert values == sorted(
            values, key=float if "amount" in field else str, reverse=sort.startswith("-")
        )
        assert all(r[field] is None for r in rows[len(values) :])  # nulls last


def test_filters_agree_with_duckdb(api):
    settings, url = api
    bearer = token(url)
    got = page_through(
        url,
        bearer,
        "/v1/orders",
        **{
            "status": "status-3",
            "amount_base[gte]": "100",
            "order_date[lte]": "2024-10-01",
            "fields": "order_id,amount_base",
            "limit": 1000,
        },
    )
    expected = snapshot_rows(
        settings,
        "select order_id from marts.fct_orders where status = ? "
        "and amount_base >= 100 and order_date <= date '2024-10-01'",
        ["status-3"],
    )
    assert sorted(r["order_id"] for r in got) == sorted(r[0] for r in expected)
    assert got and set(got[0]) == {"order_id", "amount_base"}
    listed = page_through(url, bearer, "/v1/orders", **{"status[in]": "status-1,status-2,nope"})
    expected = snapshot_rows(
        settings,
        "select order_id from marts.fct_orders "
        "where status in ('status-1', 'status-2') order by order_id",
    )
    assert [r["order_id"] for r in listed] == [r[0] for r in expected]
    liked = get(url, "/v1/customers", bearer, **{"company_name[like]": "%-4"}).json()["data"]
    assert liked and all(r["company_name"].endswith("-4") for r in liked)


def test_one_row_by_id_and_csv(api):
    settings, url = api
    bearer = token(url)
    one = get(url, "/v1/orders/4", bearer)
    assert one.status_code == 200 and one.json()["order_id"] == 4
    assert get(url, "/v1/orders/5", bearer).status_code == 404
    csv_text = get(url, "/v1/orders", bearer, format="csv", limit=3, fields="order_id,status").text
    assert csv_text.splitlines()[0] == "order_id,status"
    assert len(csv_text.splitlines()) == 4


def test_personal_fields_masked_without_the_scope_clear_with_it(api):
    settings, url = api
    masked = get(url, "/v1/customers/CUS000001", token(url, scope="read:customers")).json()
    assert masked["email"] == masked["phone_e164"] == "***"
    assert masked["company_name"] == "company_name-1"
    clear = get(url, "/v1/customers/CUS000001", token(url)).json()
    (truth,) = snapshot_rows(
        settings, "select email, phone_e164 from marts.dim_customer where customer_id = 'CUS000001'"
    )
    assert (clear["email"], clear["phone_e164"]) == truth
    # the grant has contact only: names and salaries stay masked even with every scope asked
    employee = get(url, "/v1/employees/EMP000001", token(url)).json()
    assert employee["full_name"] == employee["monthly_salary"] == "***"
    assert employee["email"] == "person1@example.com"
    guess = get(url, "/v1/employees", token(url), sort="full_name")
    assert guess.status_code == 400  # not a sort field at all


def test_a_publish_is_seen_by_the_next_request(api):
    settings, url = api
    bearer = token(url)
    before = len(page_through(url, bearer, "/v1/employees", limit=1000))
    publish(settings, version=3)  # two rows more in every mart
    after = len(page_through(url, bearer, "/v1/employees", limit=1000))
    assert (before, after) == (ROWS["dim_employee"], ROWS["dim_employee"] + 2)
    publish(settings, version=1)


def test_openapi_and_offline_docs(api):
    _, url = api
    spec = requests.get(f"{url}/openapi.json", timeout=10).json()
    assert spec["openapi"] == "3.1.0"
    email = spec["components"]["schemas"]["customers"]["properties"]["email"]
    assert email["x-classification"] == "personal" and email["x-personal-data"] == "contact"
    assert email["description"].startswith("Contact e-mail, lower-case.")
    assert (
        "personal:customers:contact"
        in (spec["components"]["securitySchemes"]["oauth2"]["flows"]["clientCredentials"]["scopes"])
    )
    assert {"/v1/orders", "/v1/orders/{key}", "/v1/employees"} <= set(spec["paths"])
    page = requests.get(f"{url}/docs", timeout=10).text
    assert "cdn" not in page.lower() and "/static-offline-docs/swagger-ui-bundle.js" in page
    bundle = requests.get(f"{url}/static-offline-docs/swagger-ui-bundle.js", timeout=10)
    assert bundle.status_code == 200 and len(bundle.content) > 100_000
    jwks = requests.get(f"{url}/.well-known/jwks.json", timeout=10).json()
    assert [k["alg"] for k in jwks["keys"]] == ["ES256"] and "d" not in jwks["keys"][0]


def test_every_call_is_audited_without_secrets(api):
    settings, url = api
    bearer = token(url)
    page_through(url, bearer, "/v1/employees", limit=30)  # two pages: the second has a cursor
    get(url, "/v1/orders", bearer, status="status-1", limit=5)
    lines = [
        json.loads(line)
        for f in sorted((settings.api_dir / "audit").glob("*.jsonl"))
        for line in f.read_text().splitlines()
    ]
    last = next(r for r in reversed(lines) if r["path"] == "/v1/orders")
    assert (last["app"], last["dataset"], last["status"], last["rows"]) == (
        "reader",
        "orders",
        200,
        5,
    )
    assert last["parameters"] == {"status": ["status-1"], "limit": ["5"]}
    paged = [r for r in lines if "cursor" in r["parameters"]]
    assert paged and all(r["parameters"]["cursor"][0].startswith("sha256:") for r in paged)
    assert last["client"] == "127.0.0.1" and last["latency_ms"] > 0
    text = "\n".join(f.read_text() for f in (settings.api_dir / "audit").glob("*.jsonl"))
    assert bearer not in text and SECRETS["reader"] not in text
    assert "person1@example.com" not in text


def test_a_publish_mid_paging_makes_the_cursor_say_start_again(api):
    """A cursor names the snapshot its page came from: after a publish it is refused (409), so
    no caller ever pages half through one snapshot and half through the next; paging again
    from the start reaches exactly the new snapshot's rows."""
    settings, url = api
    bearer = token(url)
    first = get(url, "/v1/orders", bearer, limit=500, sort="order_date").json()
    publish(settings, version=2)  # one row more
    try:
        stale = requests.get(first["next"], headers={"Authorization": f"Bearer {bearer}"},
                             timeout=10)  # fmt: skip
        assert stale.status_code == 409, stale.text
        assert stale.json()["title"] == "Snapshot changed"
        again = page_through(url, bearer, "/v1/orders", limit=500, sort="order_date")
        ids = [r["order_id"] for r in again]
        assert len(ids) == len(set(ids)) == ROWS["fct_orders"] + 1
    finally:
        publish(settings, version=1)


def wait_for(url: str) -> dict:
    for _ in range(150):
        try:
            return requests.get(f"{url}/openapi.json", timeout=1).json()
        except requests.ConnectionError:
            time.sleep(0.1)
    raise AssertionError(f"nothing answers on {url}")


def test_tributary_serve_starts_on_loopback_and_serves(api, tmp_path):
    """The command itself, in its own process, on the module's snapshot and apps."""
    settings, _ = api
    port = free_port()
    env = {**os.environ, "TRIBUTARY_DATA_DIR": str(settings.data_dir),
           "TRIBUTARY_API_SIGNING_KEY": settings.api_signing_key}  # fmt: skip
    cmd = [sys.executable, "-m", "tributary.cli", "serve", "--port", str(port)]
    server = subprocess.Popen(cmd, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    try:
        url = f"http://127.0.0.1:{port}"
        assert wait_for(url)["openapi"] == "3.1.0"
        rows = get(url, "/v1/orders", token(url), limit=2)
        assert rows.status_code == 200 and len(rows.json()["data"]) == 2
        assert rows.headers["Cache-Control"] == "no-store" and "server" not in rows.headers
    finally:
        server.terminate()
        server.wait(10)


def test_make_devs_api_runs_before_anything_is_published(tmp_path, monkeypatch):
    """`tributary demo dev` starts the API beside the UI; before the first publish its datasets
    answer 503 with Retry-After, and it signs with a session key when none is configured."""
    from tributary.cli import data_api
    from tributary.serve.cli import store

    monkeypatch.setenv("TRIBUTARY_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.delenv("TRIBUTARY_API_SIGNING_KEY", raising=False)
    settings = Settings.from_env()
    SECRETS["early"] = store(settings).create("early")
    store(settings).grant("early", ["orders"], [], date(2099, 1, 1), 100)
    port = free_port()
    with data_api(settings, "127.0.0.1", port):
        url = f"http://127.0.0.1:{port}"
        wait_for(url)
        response = get(url, "/v1/orders", token(url, "early"))
        assert response.status_code == 503 and response.headers["Retry-After"] == "60"
        assert response.json()["title"] == "No snapshot"


def test_requests_during_publishes_never_fail_nor_mix_snapshots(api):
    """Four clients read while the snapshot is replaced five times: every answer is whole and
    from one snapshot (40 rows before a publish of version 3, 42 after), none an error."""
    settings, url = api
    bearer = token(url)
    answers: list[tuple[int, int]] = []
    stop = threading.Event()

    def client():
        with requests.Session() as session:
            session.headers["Authorization"] = f"Bearer {bearer}"
            while not stop.is_set():
                response = session.get(f"{url}/v1/employees", params={"limit": 1000}, timeout=10)
                rows = len(response.json()["data"]) if response.status_code == 200 else -1
                answers.append((response.status_code, rows))

    clients = [threading.Thread(target=client) for _ in range(4)]
    for thread in clients:
        thread.start()
    try:
        for version in (3, 1, 3, 1, 3):
            publish(settings, version=version)
            time.sleep(0.2)
    finally:
        stop.set()
        for thread in clients:
            thread.join(20)
        publish(settings, version=1)
    statuses = {status for status, _ in answers}
    sizes = {rows for _, rows in answers}
    assert statuses == {200}, answers[:20]
    assert sizes == {ROWS["dim_employee"], ROWS["dim_employee"] + 2}
    assert len(answers) > 20
