"""A configurable REST API on loopback with every auth and pagination style Tributary reads.

For the REST feature tests and (run as a script) the REST benchmark: a standard-library
``ThreadingHTTPServer`` on 127.0.0.1 (port 0), silent per request. It serves numbered records
(``id``, ``name``, ``updated_at`` one minute apart from 2024-01-01T00:00:00Z), filtered by
``updated_since`` when given, and counts what it saw (requests per path, statuses, tokens,
requests in flight) so a test can assert how it was called, not only what arrived.

Endpoints (GET unless noted; page sizes default to 5):

- ``/pages?page=&page_size=``: ``{"data", "meta": {"total_pages", "has_more"}}``, 1-based;
  past the end, an empty page.
- ``/offset?offset=&limit=``: ``{"items", "total"}``.
- ``/cursor?cursor=&limit=``: ``{"result": {"records"}, "next_cursor"}``.
- ``/link?page=&per_page=``: a bare list; a ``Link: <…>; rel="next"`` header.
- ``/next_url?page=``: ``{"data", "links": {"next"}}`` with an absolute URL.
- ``/header_cursor?cursor=``: a bare list; an ``X-Next-Cursor`` header.
- ``/endless?page=``: one record a page and ``has_more: true`` for 1000 pages (a runaway).
- ``/customers/<id>/contacts``: two contacts of a customer.
- ``/invoices?page=&page_size=``: like ``/pages``, each record with a two-decimal ``total`` as a
  JSON number (``12.34``), which a float would not sum exactly (``invoice_totals``).
- POST ``/oauth/token``: OAuth2 client credentials (form), tokens that expire.
"""

import argparse
import base64
import hmac
import json
import re
import secrets
import sys
import threading
import time
from collections import Counter, deque
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from types import TracebackType
from typing import Any, Self
from urllib.parse import parse_qsl, urlencode

START = datetime(2024, 1, 1, tzinfo=UTC)
CLIENT_ID = "zoo-client"
ACCESS_KEY = "zoo-access-key"
USERNAME = "zoo"
RUNAWAY_PAGES = 1000  # /endless ends after all, so a broken page cap fails rather than hangs
AUTH_MODES = {"none", "api_key_header", "api_key_query", "bearer", "basic", "oauth2", "hmac"}


def stamp(moment: datetime) -> str:
    """ISO 8601 in UTC with a Z, as the records carry it."""
    return moment.strftime("%Y-%m-%dT%H:%M:%SZ")


@dataclass(frozen=True)
class HmacScheme:
    """How the zoo checks signed requests (Tributary's documented scheme, written anew)."""

    algorithm: str = "sha256"
    access_key_header: str = "X-Access-Key"
    timestamp_header: str = "X-Timestamp"
    signature_header: str = "X-Signature"


Reply = tuple[int, Any, dict[str, str]]


class RestZoo:
    """The API; a context manager that serves it in a daemon thread.

    ``secret`` is the one credential of whichever auth ``auth`` names: the API key, the
    bearer token, the basic password, the OAuth2 client secret or the HMAC secret key.
    """

    def __init__(
        self,
        records: int = 20,
        *,
        auth: str = "none",
        latency_s: float = 0.0,
        rate_limit: int | None = None,
        token_ttl_s: float = 60.0,
        revoke_every: int | None = None,
        failures: int = 0,
        stalls: int = 0,
        stall_s: float = 0.0,
        hmac_scheme: HmacScheme = HmacScheme(),
    ) -> None:
        assert auth in AUTH_MODES, auth
        self.records = [self._record(i, START + timedelta(minutes=i)) for i in range(records)]
        self.auth = auth
        self.secret = secrets.token_hex(16)
        self.latency_s = latency_s
        self.rate_limit = rate_limit
        self.token_ttl_s = token_ttl_s
        self.revoke_every = revoke_every
        self.failures = failures  # the next this-many data requests answer 503
        self.stalls = stalls  # then the next this-many answer only after stall_s
        self.stall_s = stall_s
        self.hmac_scheme = hmac_scheme
        self.broken_pages: set[int] = set()  # /pages answers 503 for these page numbers
        # What was seen:
        self.hits: Counter[str] = Counter()
        self.statuses: Counter[int] = Counter()
        self.arrivals: list[float] = []  # monotonic arrival times of data requests
        self.since_seen: list[str] = []  # every updated_since received
        self.tokens_issued = 0
        self.max_in_flight = 0
        self._in_flight = 0
        self._served: deque[float] = deque()
        self._tokens: dict[str, float] = {}
        self._authorized_count = 0
        self._lock = threading.Lock()
        self._http = _Server(("127.0.0.1", 0), _Handler)
        self._http.zoo = self  # type: ignore[attr-defined]
        self._thread: threading.Thread | None = None

    @property
    def url(self) -> str:
        host, port = self._http.server_address[:2]
        return f"http://{host}:{port}"

    @property
    def env(self) -> dict[str, str]:
        """The environment a source file reads: ${ZOO_URL}, ${ZOO_SECRET}."""
        return {"ZOO_URL": self.url, "ZOO_SECRET": self.secret}

    @staticmethod
    def _record(index: int, updated: datetime) -> dict[str, Any]:
        return {"id": index + 1, "name": f"record {index + 1}", "updated_at": stamp(updated)}

    def touch(self, record_id: int, updated: datetime, name: str) -> None:
        """Change a record (its name and timestamp), as a system of record would."""
        with self._lock:
            self.records[record_id - 1] = {
                "id": record_id,
                "name": name,
                "updated_at": stamp(updated),
            }

    def __enter__(self) -> Self:
        self._thread = threading.Thread(
            target=self._http.serve_forever, args=(0.05,), name="rest-zoo", daemon=True
        )
        self._thread.start()
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        trace: TracebackType | None,
    ) -> None:
        self._http.shutdown()
        if self._thread is not None:
            self._thread.join()
        self._http.server_close()

    # Serving ---------------------------------------------------------------------------

    def serve(self, method: str, target: str, headers: Any, body: bytes) -> Reply:
        with self._lock:
            self._in_flight += 1
            self.max_in_flight = max(self.max_in_flight, self._in_flight)
        try:
            status, payload, extra = self._route(method, target, headers, body)
        finally:
            with self._lock:
                self._in_flight -= 1
        with self._lock:
            self.statuses[status] += 1
        return status, payload, extra

    def _route(self, method: str, target: str, headers: Any, body: bytes) -> Reply:
        path, _, raw_query = target.partition("?")
        query = dict(parse_qsl(raw_query, keep_blank_values=True))
        if (method, path) == ("POST", "/oauth/token"):
            return self._token(headers, body)
        with self._lock:
            self.hits[path] += 1
            self.arrivals.append(time.monotonic())
            if "updated_since" in query:
                self.since_seen.append(query["updated_since"])
        if not self._admit():
            return 429, {"error": "rate_limited"}, {"Retry-After": "1"}
        if not self._authorized(method, target, headers, query):
            return 401, {"error": "unauthorized"}, {}
        with self._lock:
            fail, self.failures = self.failures > 0, max(0, self.failures - 1)
            stall = not fail and self.stalls > 0
            self.stalls -= 1 if stall else 0
        if fail:
            return 503, {"error": "unavailable"}, {}
        time.sleep(self.stall_s if stall else self.latency_s)
        with self._lock:
            records = list(self.records)
        since = query.get("updated_since")
        if since:
            moment = datetime.fromisoformat(since.replace("Z", "+00:00"))
            records = [r for r in records if datetime.fromisoformat(r["updated_at"]) >= moment]
        for pattern, handler in self._routes():
            match = re.fullmatch(pattern, path)
            if match:
                return handler(records, query, *match.groups())
        return 404, {"error": f"no such endpoint: {path}"}, {}

    def _routes(self) -> list[tuple[str, Callable[..., Reply]]]:
        return [
            ("/pages", self._pages),
            ("/offset", self._offset),
            ("/cursor", self._cursor),
            ("/link", self._link),
            ("/next_url", self._next_url),
            ("/header_cursor", self._header_cursor),
            ("/endless", self._endless),
            (r"/customers/(\d+)/contacts", self._contacts),
            ("/invoices", self._invoices),
        ]

    @staticmethod
    def _window(records: list[Any], query: dict[str, str], size_param: str) -> tuple:
        page = int(query.get("page", 1))
        size = int(query.get(size_param, 5))
        return records[(page - 1) * size : page * size], page, -(-len(records) // size)

    def _pages(self, records: list[Any], query: dict[str, str]) -> Reply:
        data, page, pages = self._window(records, query, "page_size")
        if page in self.broken_pages:
            return 503, {"error": "unavailable"}, {}
        return 200, {"data": data, "meta": {"total_pages": pages, "has_more": page < pages}}, {}

    def _offset(self, records: list[Any], query: dict[str, str]) -> Reply:
        offset, limit = int(query.get("offset", 0)), int(query.get("limit", 5))
        return 200, {"items": records[offset : offset + limit], "total": len(records)}, {}

    def _cursor(self, records: list[Any], query: dict[str, str]) -> Reply:
        start = int(base64.b64decode(query["cursor"])) if query.get("cursor") else 0
        end = start + int(query.get("limit", 5))
        more = base64.b64encode(str(end).encode()).decode() if end < len(records) else None
        return 200, {"result": {"records": records[start:end]}, "next_cursor": more}, {}

    def _link(self, records: list[Any], query: dict[str, str]) -> Reply:
        data, page, pages = self._window(records, query, "per_page")
        if page >= pages:
            return 200, data, {}
        after = urlencode({**query, "page": page + 1})
        return 200, data, {"Link": f'<{self.url}/link?{after}>; rel="next"'}

    def _next_url(self, records: list[Any], query: dict[str, str]) -> Reply:
        data, page, pages = self._window(records, query, "page_size")
        after = f"{self.url}/next_url?{urlencode({**query, 'page': page + 1})}"
        return 200, {"data": data, "links": {"next": after if page < pages else None}}, {}

    def _header_cursor(self, records: list[Any], query: dict[str, str]) -> Reply:
        start = int(query.get("cursor") or 0)
        end = start + 5
        return 200, records[start:end], {"X-Next-Cursor": str(end)} if end < len(records) else {}

    @property
    def invoice_totals(self) -> list[Decimal]:
        """The exact totals /invoices sends, one per record: 0.10, 0.30, 0.50 … plus cents."""
        return [Decimal(n * 20 + 10 + n % 7) / 100 for n in range(len(self.records))]

    def _invoices(self, records: list[Any], query: dict[str, str]) -> Reply:
        totals = dict(zip((r["id"] for r in self.records), self.invoice_totals, strict=True))
        invoices = [{"id": r["id"], "total": float(totals[r["id"]])} for r in records]
        return self._pages(invoices, query)

    def _endless(self, records: list[Any], query: dict[str, str]) -> Reply:
        page = int(query.get("page", 1))
        return 200, {"data": [self._record(page, START)], "has_more": page < RUNAWAY_PAGES}, {}

    def _contacts(self, records: list[Any], query: dict[str, str], customer: str) -> Reply:
        contacts = [
            {"contact_id": f"{customer}-{n}", "email": f"c{n}@customer{customer}.example"}
            for n in (1, 2)
        ]
        return 200, contacts, {}

    # Gatekeeping -------------------------------------------------------------------------

    def _admit(self) -> bool:
        if self.rate_limit is None:
            return True
        clock = time.monotonic()
        with self._lock:
            while self._served and clock - self._served[0] >= 1.0:
                self._served.popleft()
            if len(self._served) >= self.rate_limit:
                return False
            self._served.append(clock)
            return True

    def _authorized(self, method: str, target: str, headers: Any, query: dict[str, str]) -> bool:
        given = headers.get("Authorization", "")
        if self.auth == "none":
            return True
        if self.auth == "api_key_header":
            return _same(headers.get("X-API-Key", ""), self.secret)
        if self.auth == "api_key_query":
            return _same(query.get("auth_code", ""), self.secret)
        if self.auth == "bearer":
            return _same(given, f"Bearer {self.secret}")
        if self.auth == "basic":
            pair = base64.b64encode(f"{USERNAME}:{self.secret}".encode()).decode()
            return _same(given, f"Basic {pair}")
        if self.auth == "hmac":
            return self._signed(method, target, headers)
        return self._token_valid(given.removeprefix("Bearer "))

    def _signed(self, method: str, target: str, headers: Any) -> bool:
        scheme = self.hmac_scheme
        timestamp = headers.get(scheme.timestamp_header, "")
        if headers.get(scheme.access_key_header) != ACCESS_KEY or not timestamp.isdigit():
            return False
        if abs(time.time() - int(timestamp)) > 300:
            return False
        path, _, query = target.partition("?")
        pairs = sorted(pair for pair in query.split("&") if pair)
        message = f"{method}\n{path}\n{'&'.join(pairs)}\n{timestamp}"
        digest = hmac.new(self.secret.encode(), message.encode(), scheme.algorithm).hexdigest()
        return _same(headers.get(scheme.signature_header, ""), digest)

    def _token_valid(self, token: str) -> bool:
        with self._lock:
            valid = time.monotonic() < self._tokens.get(token, 0.0)
            if valid:
                self._authorized_count += 1
                if self.revoke_every and self._authorized_count % self.revoke_every == 0:
                    self._tokens.clear()  # revoked early: the next request meets a 401
        return valid

    def _token(self, headers: Any, body: bytes) -> Reply:
        form = dict(parse_qsl(body.decode()))
        if form.get("grant_type") != "client_credentials":
            return 400, {"error": "unsupported_grant_type"}, {}
        if not (
            form.get("client_id") == CLIENT_ID and _same(form.get("client_secret", ""), self.secret)
        ):
            return 401, {"error": "invalid_client"}, {}
        token = secrets.token_urlsafe(16)
        with self._lock:
            self._tokens[token] = time.monotonic() + self.token_ttl_s
            self.tokens_issued += 1
        return (
            200,
            {"access_token": token, "token_type": "Bearer", "expires_in": self.token_ttl_s},
            {},
        )


def _same(given: str, expected: str) -> bool:
    return hmac.compare_digest(given.encode(), expected.encode())


class _Server(ThreadingHTTPServer):
    daemon_threads = True

    def handle_error(self, request: Any, client_address: Any) -> None:
        """Silent: a client that timed out and hung up is part of the tests."""


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    wbufsize = -1  # headers and body in one write: no delayed-ACK stalls
    disable_nagle_algorithm = True

    def do_GET(self) -> None:
        self._reply()

    def do_POST(self) -> None:
        self._reply()

    def _reply(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length) if length else b""
        status, payload, extra = self.server.zoo.serve(  # type: ignore[attr-defined]
            self.command, self.path, self.headers, body
        )
        data = json.dumps(payload).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        for name, value in extra.items():
            self.send_header(name, value)
        self.end_headers()
        self.wfile.write(data)

    def log_message(self, *_: Any) -> None:
        """Silent: nothing per request, so never a credential either."""


def main() -> None:
    """Serve from a process of its own (the benchmark's API): print the URL, stop at EOF."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--records", type=int, default=20)
    parser.add_argument("--latency-s", type=float, default=0.0)
    args = parser.parse_args()
    with RestZoo(args.records, latency_s=args.latency_s) as zoo:
        print(zoo.url, flush=True)
        sys.stdin.read()


if __name__ == "__main__":
    main()
