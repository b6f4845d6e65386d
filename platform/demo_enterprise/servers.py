"""The HR and CRM REST APIs, served on loopback with the standard library's HTTP server.

Each service is a plain `handle(request) -> reply` function over the current Enterprise,
wrapped in a `ThreadingHTTPServer`. They log nothing per request (and so never a credential),
and keep their quirks on purpose: HR repeats a record across page boundaries, CRM rate-limits.
"""

import base64
import binascii
import json
import logging
import math
import secrets
import threading
import time
from bisect import bisect_right
from collections import deque
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from types import TracebackType
from typing import Any, Self
from urllib.parse import parse_qs, unquote, urlsplit

from demo_enterprise.draws import Record
from demo_enterprise.simulation import Enterprise

_log = logging.getLogger(__name__)

Source = Enterprise | Callable[[], Enterprise]


@dataclass(frozen=True)
class Request:
    method: str
    path: str
    query: dict[str, str]
    headers: Mapping[str, str]
    body: bytes


@dataclass(frozen=True)
class Reply:
    status: int
    body: Any
    headers: dict[str, str] = field(default_factory=dict)


class BadRequest(Exception):
    """A client error, answered with 400 and the message."""


def _error(status: int, error: str, description: str = "", **headers: str) -> Reply:
    body = {"error": error} | ({"error_description": description} if description else {})
    return Reply(status, body, headers)


def _integer(query: dict[str, str], name: str, default: int, most: int | None = None) -> int:
    """A positive integer parameter, clamped to the documented maximum."""
    raw = query.get(name)
    if raw is None or raw == "":
        return default
    try:
        value = int(raw)
    except ValueError:
        raise BadRequest(f"{name} must be an integer") from None
    if value < 1:
        raise BadRequest(f"{name} must be at least 1")
    return value if most is None else min(value, most)


def _instant(query: dict[str, str], name: str) -> datetime | None:
    """An ISO 8601 filter; naive means UTC. A '+' left unescaped in a URL arrives as ' '."""
    raw = query.get(name)
    if not raw:
        return None
    try:
        moment = datetime.fromisoformat(raw.strip().replace(" ", "+"))
    except ValueError:
        raise BadRequest(f"{name} must be an ISO 8601 date-time") from None
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def _since(records: list[Record], stamp: str, since: datetime | None) -> list[Record]:
    if since is None:
        return records
    return [r for r in records if datetime.fromisoformat(r[stamp]) >= since]


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    timeout = 30  # an idle keep-alive connection frees its thread
    # Headers and body leave in one write: separate small writes meet delayed ACKs (40 ms).
    wbufsize = -1
    disable_nagle_algorithm = True
    server: "_HttpServer"

    def do_GET(self) -> None:
        self._dispatch()

    def do_POST(self) -> None:
        self._dispatch()

    def _dispatch(self) -> None:
        parts = urlsplit(self.path)
        length = int(self.headers.get("Content-Length") or 0)
        request = Request(
            method=self.command,
            path=parts.path.rstrip("/") or "/",
            query={k: v[0] for k, v in parse_qs(parts.query, keep_blank_values=True).items()},
            headers=self.headers,
            body=self.rfile.read(length) if length else b"",
        )
        try:
            reply = self.server.service.handle(request)
        except BadRequest as problem:
            reply = _error(400, "invalid_request", str(problem))
        except Exception as problem:  # a 5xx a client can retry, rather than a dropped socket
            _log.debug("%s %s failed", self.command, parts.path, exc_info=True)
            reply = _error(500, "server_error", type(problem).__name__)
        payload = json.dumps(reply.body, ensure_ascii=False).encode()
        self.send_response(reply.status)
        self.send_header("Content-Type", "application/json; charset=utf-8")
        self.send_header("Content-Length", str(len(payload)))
        for name, value in reply.headers.items():
            self.send_header(name, value)
        self.end_headers()
        self.wfile.write(payload)

    def log_message(self, *_: Any) -> None:
        """Silent: nothing per request on stderr, so never a credential either."""


LOOPBACK = "127.0.0.1"  # the default: reachable from this machine only
ANY_HOST = ("0.0.0.0", "::", "")  # opened with --host: clients here still use loopback


class _HttpServer(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self, port: int, service: "_Service", host: str) -> None:
        self.service = service
        super().__init__((host, port), _Handler)

    def handle_error(self, request: Any, client_address: Any) -> None:
        # Not to stderr: a client hanging up mid-reply is routine for a test stand-in.
        _log.debug("request from %s failed", client_address, exc_info=True)


class _Service:
    """Binds at construction (so the port is known), serves in a daemon thread once started."""

    def __init__(self, source: Source, port: int, host: str = LOOPBACK) -> None:
        self._source = source
        self._http = _HttpServer(port, self, host)
        self._thread: threading.Thread | None = None

    @property
    def url(self) -> str:
        host, port = self._http.server_address[:2]
        return f"http://{LOOPBACK if host in ANY_HOST else host}:{port}"

    def enterprise(self) -> Enterprise:
        return self._source if isinstance(self._source, Enterprise) else self._source()

    def handle(self, request: Request) -> Reply:
        raise NotImplementedError

    def start(self) -> None:
        # A short poll interval makes stop() quick; the idle cost is negligible.
        self._thread = threading.Thread(
            target=self._http.serve_forever, args=(0.05,), name=type(self).__name__, daemon=True
        )
        self._thread.start()

    def stop(self) -> None:
        if self._thread is not None:
            self._http.shutdown()
            self._thread.join()
            self._thread = None
        self._http.server_close()

    def __enter__(self) -> Self:
        self.start()
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        trace: TracebackType | None,
    ) -> None:
        self.stop()


class HRServer(_Service):
    """HR REST API: OAuth2 client credentials, page-number pagination with a repeated record."""

    def __init__(
        self,
        source: Source,
        client_id: str,
        client_secret: str,
        port: int = 0,
        token_ttl: int = 300,
        host: str = LOOPBACK,
    ) -> None:
        super().__init__(source, port, host)
        self._client_id = client_id
        self._client_secret = client_secret
        self._token_ttl = token_ttl
        self._tokens: dict[str, float] = {}  # token -> monotonic expiry
        self._lock = threading.Lock()

    def handle(self, request: Request) -> Reply:
        route = (request.method, request.path)
        if route == ("POST", "/oauth/token"):
            return self._token(request)
        if route not in {("GET", "/api/v1/employees"), ("GET", "/api/v1/departments")}:
            return _error(404, "not_found", f"no such endpoint: {request.method} {request.path}")
        if not self._authorized(request.headers.get("Authorization", "")):
            return _error(
                401,
                "invalid_token",
                "missing, unknown or expired bearer token",
                **{"WWW-Authenticate": 'Bearer error="invalid_token"'},
            )
        ent = self.enterprise()
        if request.path == "/api/v1/employees":
            return self._page(request.query, ent.hr_employees, repeat_boundary=True)
        return self._page(request.query, ent.hr_departments, repeat_boundary=False)

    def _token(self, request: Request) -> Reply:
        form = {k: v[0] for k, v in parse_qs(request.body.decode("utf-8", "replace")).items()}
        client_id, client_secret = form.get("client_id", ""), form.get("client_secret", "")
        scheme, _, encoded = request.headers.get("Authorization", "").partition(" ")
        if scheme.lower() == "basic":
            try:
                pair = base64.b64decode(encoded, validate=True).decode()
            except (binascii.Error, UnicodeDecodeError):
                pair = ""
            # RFC 6749 2.3.1: both halves are form-encoded before the Basic encoding.
            client_id, _, client_secret = (unquote(part) for part in pair.partition(":"))
        valid = secrets.compare_digest(client_id.encode(), self._client_id.encode())
        valid &= secrets.compare_digest(client_secret.encode(), self._client_secret.encode())
        if not valid:
            return _error(401, "invalid_client", **{"WWW-Authenticate": "Basic"})
        if form.get("grant_type") != "client_credentials":
            return _error(400, "unsupported_grant_type", "only client_credentials is supported")
        token = secrets.token_urlsafe(32)
        clock = time.monotonic()
        with self._lock:
            self._tokens = {t: end for t, end in self._tokens.items() if end > clock}
            self._tokens[token] = clock + self._token_ttl
        return Reply(
            200,
            {"access_token": token, "token_type": "Bearer", "expires_in": self._token_ttl},
            {"Cache-Control": "no-store"},
        )

    def _authorized(self, header: str) -> bool:
        scheme, _, token = header.partition(" ")
        if scheme.lower() != "bearer":
            return False
        with self._lock:
            expiry = self._tokens.get(token.strip())
        return expiry is not None and time.monotonic() < expiry

    def _page(self, query: dict[str, str], records: list[Record], repeat_boundary: bool) -> Reply:
        page = _integer(query, "page", 1)
        size = _integer(query, "page_size", 50, most=200)
        selected = _since(records, "updated_at", _instant(query, "updated_since"))
        start = (page - 1) * size
        data = selected[start : start + size]
        if repeat_boundary and data and page > 1:
            # The unstable sort of the real system: the previous page's last record again.
            data = [selected[start - 1], *data]
        return Reply(
            200,
            {
                "data": data,
                "page": page,
                "page_size": size,
                "total_pages": math.ceil(len(selected) / size),
                "total": len(selected),
            },
        )


class _RateLimiter:
    """At most `limit` served requests in any rolling one-second window."""

    def __init__(self, limit: int) -> None:
        self._limit = limit
        self._served: deque[float] = deque()
        self._lock = threading.Lock()

    def admit(self) -> bool:
        clock = time.monotonic()
        with self._lock:
            while self._served and clock - self._served[0] >= 1.0:
                self._served.popleft()
            if len(self._served) >= self._limit:
                return False
            self._served.append(clock)
            return True


class CRMServer(_Service):
    """CRM REST API: an API key header, cursor pagination, and a rate limit."""

    _RESOURCES: dict[str, tuple[str, str, Callable[[str], Any]]] = {
        # path -> (attribute of Enterprise, id field, sort key of an id: u9 before u10)
        "/v1/users": ("crm_users", "user_id", lambda user_id: int(user_id[1:])),
        "/v1/customers": ("crm_customers", "id", str),
    }

    def __init__(
        self,
        source: Source,
        api_key: str,
        port: int = 0,
        rate_limit: int = 20,
        host: str = LOOPBACK,
    ) -> None:
        super().__init__(source, port, host)
        self._api_key = api_key
        self._limiter = _RateLimiter(rate_limit)

    def handle(self, request: Request) -> Reply:
        if not self._limiter.admit():
            return _error(429, "rate_limited", "too many requests", **{"Retry-After": "1"})
        key = request.headers.get("X-API-Key", "")
        if not secrets.compare_digest(key.encode(), self._api_key.encode()):
            return _error(401, "unauthorized", "a valid X-API-Key header is required")
        resource = self._RESOURCES.get(request.path)
        if request.method != "GET" or resource is None:
            return _error(404, "not_found", f"no such endpoint: {request.method} {request.path}")
        attribute, id_field, key_of = resource
        limit = _integer(request.query, "limit", 100, most=500)
        after, since = None, _instant(request.query, "modified_after")
        if request.query.get("cursor"):
            after, since = _decode_cursor(request.query["cursor"])
        items = sorted(
            _since(getattr(self.enterprise(), attribute), "modified_at", since),
            key=lambda item: key_of(item[id_field]),
        )
        start = (
            0
            if after is None
            else bisect_right(items, key_of(after), key=lambda item: key_of(item[id_field]))
        )
        page = items[start : start + limit]
        more = start + limit < len(items)
        return Reply(
            200,
            {
                "items": page,
                "next_cursor": _encode_cursor(page[-1][id_field], since) if more else None,
            },
        )


def _encode_cursor(after: str, since: datetime | None) -> str:
    """Opaque to clients; it pins the filter of the walk it continues."""
    state = {"after": after, "since": since.isoformat() if since else None}
    return base64.urlsafe_b64encode(json.dumps(state).encode()).decode().rstrip("=")


def _decode_cursor(cursor: str) -> tuple[str, datetime | None]:
    try:
        state = json.loads(base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)))
        since = state["since"]
        return str(state["after"]), datetime.fromisoformat(since) if since else None
    except (ValueError, KeyError, TypeError, binascii.Error):
        raise BadRequest("cursor is not one this server issued") from None
