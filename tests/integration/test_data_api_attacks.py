"""Attacks on the Data API, each refused with the right status and written to the audit log,
against the real server: forged and stale tokens, revoked apps, expired grants, SQL injection
through every name and value a caller controls, oversized pages, floods."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import secrets
import time
from datetime import UTC, date, datetime, timedelta

import duckdb
import jwt
import pytest
import requests
from cryptography.hazmat.primitives import serialization
from tests.integration.api_server import SECRETS, api, get, token

from tributary.serve.cli import store
from tributary.serve.query import encode_cursor
from tributary.serve.signing import RequestSigning, canonical, sign
from tributary.serve.tokens import Signer, new_signing_key

__all__ = ["api"]  # this module's server (a fixture)


def audited(settings) -> list[dict]:
    folder = settings.api_dir / "audit"
    return [json.loads(line) for f in sorted(folder.glob("*.jsonl"))
            for line in f.read_text().splitlines()]  # fmt: skip


def forged(settings, key_pem: str | None = None, algorithm: str = "ES256", **claims) -> str:
    """A token as an attacker (or a stale client) would bring it, with this server's kid."""
    signer = Signer(settings.api_signing_key, None, settings.api_issuer, settings.api_audience)
    now = int(time.time())
    body = {"iss": settings.api_issuer, "aud": settings.api_audience, "sub": "reader",
            "iat": now, "nbf": now, "exp": now + 300, "scope": "read:orders", **claims}  # fmt: skip
    body = {k: v for k, v in body.items() if v is not None}
    if algorithm == "HS256":  # the public key as an HMAC secret: the classic confusion
        public = signer.key.public_key().public_bytes(
            serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
        )
        header = {"alg": "HS256", "typ": "JWT", "kid": signer.kid}
        signed = ".".join(_b64(json.dumps(part).encode()) for part in (header, body))
        return signed + "." + _b64(hmac.new(public, signed.encode(), hashlib.sha256).digest())
    key = serialization.load_pem_private_key((key_pem or settings.api_signing_key).encode(), None)
    return jwt.encode(body, None if algorithm == "none" else key, algorithm=algorithm,
                      headers={"kid": signer.kid})  # fmt: skip


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).decode().rstrip("=")


def check(settings, response, status: int, path: str) -> None:
    assert response.status_code == status, response.text
    assert response.headers["content-type"].startswith("application/problem+json")
    problem = response.json()
    assert (
        problem["status"] == status and problem["detail"] and "Traceback" not in problem["detail"]
    )
    last = audited(settings)[-1]
    assert (last["path"], last["status"]) == (path, status)


def jwt_none(settings):
    return forged(settings, algorithm="none")


TOKENS = {
    "no token": (lambda s: None, 401),
    "not a jwt": (lambda s: "abc.def.ghi", 401),
    "expired": (lambda s: forged(s, exp=int(time.time()) - 3600, iat=int(time.time()) - 4000), 401),
    "wrong signature": (lambda s: forged(s, key_pem=new_signing_key()), 401),
    "alg none": (jwt_none, 401),
    "alg HS256 with the public key": (lambda s: forged(s, algorithm="HS256"), 401),
    "wrong audience": (lambda s: forged(s, aud="urn:someone-else"), 401),
    "wrong issuer": (lambda s: forged(s, iss="urn:evil"), 401),
    "no scope claim": (lambda s: forged(s, scope=None), 401),
    "wrong scope": (lambda s: forged(s, scope="read:invoices"), 403),
    "unknown app": (lambda s: forged(s, sub="nobody"), 401),
}


@pytest.mark.parametrize("name", TOKENS)
def test_bad_tokens_are_refused_and_audited(api, name):
    settings, url = api
    make, status = TOKENS[name]
    check(settings, get(url, "/v1/orders", make(settings)), status, "/v1/orders")


def test_a_revoked_app_is_refused_on_its_next_request(api):
    settings, url = api
    apps = store(settings)
    SECRETS["gone"] = apps.create("gone")
    apps.grant("gone", ["orders"], [], date(2099, 1, 1), 100)
    bearer = token(url, "gone")
    assert get(url, "/v1/orders", bearer, limit=1).status_code == 200
    apps.revoke("gone")
    check(settings, get(url, "/v1/orders", bearer, limit=1), 401, "/v1/orders")
    form = {"grant_type": "client_credentials", "client_id": "gone"}
    refused = requests.post(
        f"{url}/oauth/token", data={**form, "client_secret": SECRETS["gone"]}, timeout=10
    )
    check(settings, refused, 401, "/oauth/token")


def test_a_grant_past_its_expiry_is_refused(api):
    settings, url = api
    apps = store(settings)
    apps.create("late")
    yesterday = datetime.now(UTC).date() - timedelta(days=1)
    apps.grant("late", ["orders"], [], yesterday, 100)
    bearer = forged(settings, sub="late")  # a token issued while the grant still held
    check(settings, get(url, "/v1/orders", bearer), 403, "/v1/orders")


def test_wrong_secrets_and_ungranted_scopes_get_no_token(api):
    settings, url = api
    form = {"grant_type": "client_credentials", "client_id": "reader", "client_secret": "guess"}
    check(settings, requests.post(f"{url}/oauth/token", data=form, timeout=10), 401, "/oauth/token")
    form = {**form, "client_secret": SECRETS["reader"], "scope": "personal:employees:name"}
    check(settings, requests.post(f"{url}/oauth/token", data=form, timeout=10), 403, "/oauth/token")
    form = {**form, "grant_type": "password"}
    check(settings, requests.post(f"{url}/oauth/token", data=form, timeout=10), 400, "/oauth/token")
    text = (settings.api_dir / "audit").glob("*.jsonl")
    assert not any(SECRETS["reader"] in f.read_text() for f in text)


INJECTIONS = {
    "typed value": {"amount_base[gte]": "0 or 1=1"},
    "date value": {"order_date": "2024-01-01' or '1'='1"},
    "sort key": {"sort": "order_date; drop table marts.fct_orders"},
    "sort expression": {"sort": "(select 1)"},
    "field name": {"fields": 'order_id,"status"'},
    "field list": {"fields": "order_id) from marts.fct_orders --"},
    "filter name": {'status" = status or "1': "x"},
    "operator": {"status[or]": "1"},
    "in list": {"order_date[in]": "2024-01-01,x') or (1=1"},
    "cursor": {"cursor": "J29yIDE9MSc"},
    "cursor value": {"cursor": encode_cursor(None, "1 or 1=1", "", "order_id")},
    "unknown field": {"fields": "order_id,password"},
    "unknown filter": {"nope": "1"},
    "not filterable": {"fx_rate": "1"},
    "oversized page": {"limit": "1001"},
    "huge page": {"limit": "99999999999"},
    "like on a number": {"amount_base[like]": "%"},
}


@pytest.mark.parametrize("name", INJECTIONS)
def test_injection_and_unknown_names_are_refused(api, name):
    settings, url = api
    check(settings, get(url, "/v1/orders", token(url), **INJECTIONS[name]), 400, "/v1/orders")


def test_injection_in_a_text_value_is_only_a_value(api):
    settings, url = api
    response = get(url, "/v1/orders", token(url), status="' or '1'='1")
    assert response.status_code == 200 and response.json()["data"] == []
    assert get(url, "/v1/orders", token(url), limit=1).json()["data"]  # the table is still there


def test_masked_fields_cannot_be_filtered_sorted_or_guessed(api):
    settings, url = api
    response = get(url, "/v1/customers/CUS000001", token(url, scope="read:customers"))
    assert response.json()["email"] == "***"
    assert get(url, "/v1/nope", token(url)).status_code == 404
    assert get(url, "/v1/orders/abc", token(url)).status_code == 400


def test_a_flood_past_the_rate_gets_429_with_retry_after(api):
    settings, url = api
    apps = store(settings)
    SECRETS["flood"] = apps.create("flood")
    apps.grant("flood", ["orders"], [], date(2099, 1, 1), 5)
    bearer = token(url, "flood")
    statuses = [get(url, "/v1/orders", bearer, limit=1).status_code for _ in range(5)]
    assert statuses == [200] * 5
    response = get(url, "/v1/orders", bearer, limit=1)
    check(settings, response, 429, "/v1/orders")
    assert 1 <= int(response.headers["Retry-After"]) <= 12
    assert get(url, "/v1/orders", token(url), limit=1).status_code == 200  # others unaffected


def test_guessing_a_secret_is_slowed_to_a_stop(api):
    settings, url = api
    SECRETS["guessed"] = store(settings).create("guessed")
    store(settings).grant("guessed", ["orders"], [], date(2099, 1, 1), 100)
    form = {"grant_type": "client_credentials", "client_id": "guessed"}
    tries = [
        requests.post(f"{url}/oauth/token", data={**form, "client_secret": f"guess{i}"}, timeout=10)
        for i in range(10)
    ]
    assert [r.status_code for r in tries] == [401] * 10
    right = requests.post(
        f"{url}/oauth/token", data={**form, "client_secret": SECRETS["guessed"]}, timeout=10
    )
    check(settings, right, 429, "/oauth/token")  # even the right secret waits now
    assert int(right.headers["Retry-After"]) >= 1
    assert token(url)  # other clients are unaffected


def signed_headers(settings, access_key: str, path: str, params: dict, stamp=None, nonce=None):
    """What an AK/SK caller sends (docs/api.md)."""
    secret = RequestSigning(settings.api_aksk_key).secret_for(access_key)
    stamp = str(stamp if stamp is not None else int(time.time()))
    nonce = nonce or secrets.token_hex(12)
    message = canonical("GET", path, [(k, str(v)) for k, v in params.items()], stamp, nonce)
    return {"X-Tributary-Key": access_key, "X-Tributary-Timestamp": stamp,
            "X-Tributary-Nonce": nonce, "X-Tributary-Signature": sign(secret, message)}  # fmt: skip


def test_ak_sk_signed_requests_and_their_replays(api):
    settings, url = api
    apps = store(settings)
    access_key = apps.add_access_key("reader")
    path, params = "/v1/customers", {"limit": "3", "sort": "company_name"}
    headers = signed_headers(settings, access_key, path, params)
    ok = requests.get(f"{url}{path}", params=params, headers=headers, timeout=10)
    assert ok.status_code == 200, ok.text
    assert len(ok.json()["data"]) == 3 and "@" in ok.json()["data"][0]["email"]  # granted contact
    replay = requests.get(f"{url}{path}", params=params, headers=headers, timeout=10)
    check(settings, replay, 401, path)
    assert "replay" in replay.json()["detail"]
    tampered = requests.get(f"{url}{path}", params={**params, "limit": "1000"}, timeout=10,
                            headers=signed_headers(settings, access_key, path, params))  # fmt: skip
    check(settings, tampered, 401, path)
    stale = signed_headers(settings, access_key, path, params, stamp=int(time.time()) - 3600)
    check(settings, requests.get(f"{url}{path}", params=params, headers=stale, timeout=10), 401,
          path)  # fmt: skip
    forged = signed_headers(settings, "AKNOTISSUED0000000000", path, params)
    check(settings, requests.get(f"{url}{path}", params=params, headers=forged, timeout=10), 401,
          path)  # fmt: skip
    partial = {k: v for k, v in signed_headers(settings, access_key, path, params).items()
               if k != "X-Tributary-Nonce"}  # fmt: skip
    check(settings, requests.get(f"{url}{path}", params=params, headers=partial, timeout=10), 401,
          path)  # fmt: skip
    SECRETS["signer"] = apps.create("signer")
    apps.grant("signer", ["orders"], [], date(2099, 1, 1), 100)
    revoked_key = apps.add_access_key("signer")
    apps.revoke("signer")
    gone = signed_headers(settings, revoked_key, "/v1/orders", {})
    check(settings, requests.get(f"{url}/v1/orders", headers=gone, timeout=10), 401, "/v1/orders")


def test_a_grants_row_filter_limits_what_the_app_sees(api):
    """A subsidiary's app sees only its customers' orders: in pages, filters and by id."""
    settings, url = api
    apps = store(settings)
    SECRETS["subsidiary"] = apps.create("subsidiary")
    apps.grant("subsidiary", ["orders"], [], date(2099, 1, 1), 1000,
               {"customer_id": ["customer_id-2", "customer_id-5"]})  # fmt: skip
    bearer = token(url, "subsidiary")
    seen = get(url, "/v1/orders", bearer, limit=1000).json()["data"]
    (truth,) = duckdb_rows(settings, "select count(*) from marts.fct_orders "
                           "where customer_id in ('customer_id-2', 'customer_id-5')")  # fmt: skip
    assert len(seen) == truth[0] > 0
    assert {r["customer_id"] for r in seen} == {"customer_id-2", "customer_id-5"}
    widened = get(url, "/v1/orders", bearer, customer_id="customer_id-3").json()["data"]
    assert widened == []  # a filter of its own narrows, never widens
    other = duckdb_rows(settings, "select order_id from marts.fct_orders "
                        "where customer_id = 'customer_id-3' limit 1")[0][0]  # fmt: skip
    check(settings, get(url, f"/v1/orders/{other}", bearer), 404, f"/v1/orders/{other}")
    assert get(url, f"/v1/orders/{seen[0]['order_id']}", bearer).status_code == 200


def duckdb_rows(settings, sql: str) -> list[tuple]:
    with duckdb.connect(str(settings.snapshot), read_only=True) as con:
        return con.execute(sql).fetchall()
