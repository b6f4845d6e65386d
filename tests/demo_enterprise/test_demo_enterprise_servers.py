"""HR and CRM on real loopback sockets, spoken to with `requests` as an ingestion client would."""

import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import requests

from demo_enterprise import CRMServer, DemoEnterprise, Enterprise, HRServer, simulate

CLIENT_ID, CLIENT_SECRET, API_KEY = "client-a", "s3cret/with:odd+chars", "key-123"


@pytest.fixture(scope="module")
def ent() -> Enterprise:
    return simulate(5, 0.1, 1)


@pytest.fixture
def hr(ent: Enterprise) -> Iterator[HRServer]:
    with HRServer(ent, CLIENT_ID, CLIENT_SECRET) as server:
        yield server


def _token(base: str, **kwargs: object) -> requests.Response:
    return requests.post(f"{base}/oauth/token", timeout=5, **kwargs)


def _bearer(base: str) -> dict[str, str]:
    response = _token(
        base,
        data={
            "grant_type": "client_credentials",
            "client_id": CLIENT_ID,
            "client_secret": CLIENT_SECRET,
        },
    )
    assert response.status_code == 200
    return {"Authorization": f"Bearer {response.json()['access_token']}"}


def test_hr_token_by_form_or_basic_auth_and_refusals(hr: HRServer) -> None:
    by_form = _token(
        hr.url,
        data={
            "grant_type": "client_credentials",
            "client_id": CLIENT_ID,
            "client_secret": CLIENT_SECRET,
        },
    )
    by_basic = _token(
        hr.url, data={"grant_type": "client_credentials"}, auth=(CLIENT_ID, CLIENT_SECRET)
    )
    for response in (by_form, by_basic):
        assert response.status_code == 200
        body = response.json()
        assert body["token_type"] == "Bearer" and body["expires_in"] == 300
        assert body["access_token"]
    wrong = _token(
        hr.url,
        data={"grant_type": "client_credentials", "client_id": CLIENT_ID, "client_secret": "nope"},
    )
    assert (wrong.status_code, wrong.json()) == (401, {"error": "invalid_client"})
    assert (
        _token(hr.url, data={"grant_type": "password"}, auth=(CLIENT_ID, CLIENT_SECRET)).status_code
        == 400
    )
    employees = f"{hr.url}/api/v1/employees"
    assert requests.get(employees, timeout=5).status_code == 401
    bogus = {"Authorization": "Bearer not-a-token"}
    assert requests.get(employees, headers=bogus, timeout=5).status_code == 401
    assert requests.get(employees, headers=_bearer(hr.url), timeout=5).status_code == 200
    missing = requests.get(f"{hr.url}/api/v2/nothing", timeout=5)
    assert missing.status_code == 404 and "error" in missing.json()


def test_hr_token_expires(ent: Enterprise) -> None:
    with HRServer(ent, CLIENT_ID, CLIENT_SECRET, token_ttl=1) as server:
        headers = _bearer(server.url)
        url = f"{server.url}/api/v1/departments"
        assert requests.get(url, headers=headers, timeout=5).status_code == 200
        time.sleep(1.1)
        assert requests.get(url, headers=headers, timeout=5).status_code == 401


def test_hr_pages_repeat_the_boundary_record(hr: HRServer, ent: Enterprise) -> None:
    headers, pages = _bearer(hr.url), []
    page = 1
    while True:
        body = requests.get(
            f"{hr.url}/api/v1/employees",
            headers=headers,
            timeout=5,
            params={"page": page, "page_size": 7},
        ).json()
        if not body["data"]:
            break
        assert (body["page"], body["page_size"], body["total"]) == (page, 7, len(ent.hr_employees))
        pages.append(body["data"])
        page += 1
    assert len(pages) == body["total_pages"] >= 3
    for previous, current in zip(pages, pages[1:], strict=False):
        assert current[0] == previous[-1]
    walked = [record for data in pages for record in data]
    assert len(walked) == len(ent.hr_employees) + len(pages) - 1
    unique = {r["staffID"]: r for r in walked}
    assert list(unique.values()) == ent.hr_employees


def test_hr_filters_and_departments(hr: HRServer, ent: Enterprise) -> None:
    headers = _bearer(hr.url)
    since = "2025-12-31T00:00:00+00:00"  # the '+' must survive URL encoding
    body = requests.get(
        f"{hr.url}/api/v1/employees",
        headers=headers,
        timeout=5,
        params={"updated_since": since, "page_size": 500},
    ).json()
    expected = [r for r in ent.hr_employees if r["updated_at"] >= "2025-12-31T00:00:00Z"]
    assert body["page_size"] == 200 and body["data"] == expected and expected
    departments = requests.get(
        f"{hr.url}/api/v1/departments",
        headers=headers,
        timeout=5,
        params={"page": 1, "page_size": 5},
    ).json()
    assert departments["total"] == 12 and departments["total_pages"] == 3
    second = requests.get(
        f"{hr.url}/api/v1/departments",
        headers=headers,
        timeout=5,
        params={"page": 2, "page_size": 5},
    ).json()["data"]
    assert [d["deptCode"] for d in second] == ["D06", "D07", "D08", "D09", "D10"]
    assert (
        requests.get(
            f"{hr.url}/api/v1/employees", headers=headers, timeout=5, params={"page": 0}
        ).status_code
        == 400
    )


def _walk(session: requests.Session, url: str, **params: object) -> list[dict]:
    items, cursor = [], None
    while True:
        body = session.get(url, params={**params, "cursor": cursor}, timeout=5).json()
        items.extend(body["items"])
        cursor = body["next_cursor"]
        if cursor is None:
            return items


def test_crm_cursor_walk_returns_every_item_once(ent: Enterprise) -> None:
    with CRMServer(ent, API_KEY, rate_limit=1000) as crm, requests.Session() as session:
        session.headers["X-API-Key"] = API_KEY
        customers = _walk(session, f"{crm.url}/v1/customers", limit=9)
        assert customers == ent.crm_customers
        users = _walk(session, f"{crm.url}/v1/users", limit=2)
        assert sorted(u["user_id"] for u in users) == sorted(u["user_id"] for u in ent.crm_users)
        assert len(users) == len(ent.crm_users)
        since = "2025-06-01T00:00:00Z"
        recent = _walk(session, f"{crm.url}/v1/customers", limit=3, modified_after=since)
        assert recent == [c for c in ent.crm_customers if c["modified_at"] >= since]
        everything = session.get(
            f"{crm.url}/v1/customers", params={"limit": 100_000}, timeout=5
        ).json()
        assert len(everything["items"]) == min(500, len(ent.crm_customers))


def test_crm_needs_the_key_and_limits_the_rate(ent: Enterprise) -> None:
    with CRMServer(ent, API_KEY, rate_limit=5) as crm, requests.Session() as session:
        url = f"{crm.url}/v1/users"
        session.headers["X-API-Key"] = API_KEY
        responses = [session.get(url, timeout=5) for _ in range(12)]
        codes = [r.status_code for r in responses]
        assert codes[:5] == [200] * 5 and 429 in codes
        refused = next(r for r in responses if r.status_code == 429)
        assert refused.headers["Retry-After"] == "1" and "error" in refused.json()
        time.sleep(1.0)
        assert session.get(url, timeout=5).status_code == 200
        assert session.get(url, headers={"X-API-Key": "wrong"}, timeout=5).status_code == 401
        del session.headers["X-API-Key"]
        assert session.get(url, timeout=5).status_code == 401


def test_serve_gives_a_working_environment_and_follows_the_clock(tmp_path: Path) -> None:
    demo = DemoEnterprise(tmp_path, seed=3, scale=0.1)
    with demo.serve() as env:
        assert set(env) == {
            "HR_BASE_URL",
            "HR_CLIENT_ID",
            "HR_CLIENT_SECRET",
            "CRM_BASE_URL",
            "CRM_API_KEY",
            "ERP_URL",
            "FINANCE_EXPORT_DIR",
        }
        assert env["ERP_URL"] == f"sqlite:///{tmp_path.resolve()}/erp.sqlite"
        assert Path(env["FINANCE_EXPORT_DIR"], "invoices_20251231.csv").exists()
        token = _token(
            env["HR_BASE_URL"],
            data={"grant_type": "client_credentials"},
            auth=(env["HR_CLIENT_ID"], env["HR_CLIENT_SECRET"]),
        ).json()
        headers = {"Authorization": f"Bearer {token['access_token']}"}
        crm = {"X-API-Key": env["CRM_API_KEY"]}

        def totals() -> tuple[int, int]:
            hr = requests.get(
                f"{env['HR_BASE_URL']}/api/v1/employees", headers=headers, timeout=5
            ).json()["total"]
            customers = requests.get(
                f"{env['CRM_BASE_URL']}/v1/customers", timeout=5, headers=crm, params={"limit": 500}
            ).json()["items"]
            return hr, len(customers)

        assert totals() == (
            len(demo.enterprise().hr_employees),
            len(demo.enterprise().crm_customers),
        )
        # Another process moves the clock; the running servers serve the new day.
        subprocess.run(
            [
                sys.executable,
                "-c",
                "import sys; from demo_enterprise import DemoEnterprise; "
                "DemoEnterprise(sys.argv[1], seed=3, scale=0.1).advance(2)",
                str(tmp_path),
            ],
            check=True,
            timeout=60,
        )
        day2 = simulate(3, 0.1, 2)
        assert totals() == (len(day2.hr_employees), len(day2.crm_customers))
        assert demo.day == 2
    with pytest.raises(requests.ConnectionError):
        requests.get(env["HR_BASE_URL"], timeout=2)
