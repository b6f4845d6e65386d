"""The Data API's ASGI app: the token endpoint, the JWKS, the datasets, the docs; every call
audited (middleware below), every error a problem."""

from __future__ import annotations

import base64
import binascii
import logging
import time
from urllib.parse import parse_qsl

from fastapi import Request
from fastapi.responses import JSONResponse
from fastapi_offline import FastAPIOffline
from starlette.datastructures import MutableHeaders

from tributary.serve import problems
from tributary.serve.apps import granted_scopes
from tributary.serve.audit import AuditLog, safe_parameters
from tributary.serve.datasets import Context, list_rows, one_row
from tributary.serve.limits import FAILED_LOGINS_PER_MINUTE
from tributary.serve.openapi import openapi_spec
from tributary.serve.problems import Problem, problem_response

LOG = logging.getLogger("tributary.serve")
MAX_TOKEN_BODY = 4096  # bytes of a token request


def _client(request: Request, form: dict[str, str]) -> tuple[str, str]:
    """client_id and client_secret from HTTP Basic (RFC 6749 2.3.1) or the form."""
    scheme, _, encoded = request.headers.get("authorization", "").partition(" ")
    if scheme.lower() == "basic":
        try:
            name, _, secret = base64.b64decode(encoded, validate=True).decode().partition(":")
        except (binascii.Error, UnicodeDecodeError):
            raise Problem(401, "Basic credentials are not base64 of id:secret") from None
        return name, secret
    return form.get("client_id", ""), form.get("client_secret", "")


async def _token(request: Request, ctx: Context) -> JSONResponse:
    body = await request.body()
    if len(body) > MAX_TOKEN_BODY:
        raise Problem(413, f"a token request is at most {MAX_TOKEN_BODY} bytes")
    form = dict(parse_qsl(body.decode("utf-8", "replace")))
    if form.get("grant_type") != "client_credentials":
        raise Problem(400, "grant_type must be client_credentials", title="Unsupported grant type")
    name, secret = _client(request, form)
    request.state.audit["app"] = name[:64]
    guesses = ("token-failures", name[:64])
    wait = ctx.limiter.blocked(guesses, FAILED_LOGINS_PER_MINUTE)
    if wait:
        raise Problem(
            429, "too many wrong secrets for this client", headers={"Retry-After": str(wait)}
        )
    if not name or not ctx.store.authenticate(name, secret):
        ctx.limiter.take(guesses, FAILED_LOGINS_PER_MINUTE)
        raise Problem(401, "unknown client or wrong secret", title="Invalid client")
    grants = ctx.store.grants(name)
    allowed = granted_scopes(grants)
    wanted = form.get("scope", "").split() or allowed
    refused = sorted(set(wanted) - set(allowed))
    if refused:
        raise Problem(403, f"scope not granted: {' '.join(refused)[:200]}", title="Invalid scope")
    token, seconds = ctx.signer.issue(name, wanted, ctx.api.token_minutes)
    body = {"access_token": token, "token_type": "Bearer", "expires_in": seconds,
            "scope": " ".join(wanted)}  # fmt: skip
    return JSONResponse(body, headers={"Cache-Control": "no-store"})


class AuditMiddleware:
    """Every HTTP call written to the audit log, and never a stack trace to the caller (the
    server log has it). Plain ASGI: Starlette's BaseHTTPMiddleware costs each request more."""

    def __init__(self, app, log: AuditLog):
        self.app, self.log = app, log

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http":
            return await self.app(scope, receive, send)
        started = time.perf_counter()
        record: dict = {}
        scope.setdefault("state", {})["audit"] = record  # request.state.audit in the handlers
        sent: list[int] = []

        async def send_with_headers(message):
            if message["type"] == "http.response.start":
                sent.append(message["status"])
                headers = MutableHeaders(scope=message)
                headers["X-Content-Type-Options"] = "nosniff"
                if scope["path"].startswith(("/v1/", "/oauth/")):
                    headers["Cache-Control"] = "no-store"  # rows may hold personal data
            elif message["type"] == "http.response.body" and not message.get("more_body"):
                self._write(scope, record, sent[0], started)  # before the caller has it all
                sent.append(0)
            await send(message)

        try:
            await self.app(scope, receive, send_with_headers)
        except Exception:
            LOG.exception("%s %s failed", scope["method"], scope["path"])
            if not sent:
                failed = Problem(500, "the server failed this request")
                await problem_response(Request(scope), failed)(scope, receive, send_with_headers)
        if len(sent) < 2:  # no whole response went out
            self._write(scope, record, sent[0] if sent else 500, started)

    def _write(self, scope, record: dict, status: int, started: float) -> None:
        request = Request(scope)
        self.log.write({
            "app": record.get("app"), "method": request.method, "path": request.url.path,
            "dataset": scope.get("path_params", {}).get("dataset") or _dataset_of(scope["path"]),
            "parameters": safe_parameters(request.query_params.multi_items(),
                                          record.get("personal", set())),
            "rows": record.get("rows"), "status": status,
            "latency_ms": round((time.perf_counter() - started) * 1000, 2),
            "client": request.client.host if request.client else None,
        })  # fmt: skip


def _dataset_of(path: str) -> str | None:
    parts = path.strip("/").split("/")
    return parts[1][:64] if len(parts) >= 2 and parts[0] == "v1" else None


def create_app(ctx: Context, log: AuditLog) -> FastAPIOffline:
    app = FastAPIOffline(
        title="Tributary Data API", openapi_url="/openapi.json", docs_url="/docs",
        redoc_url="/redoc",
    )  # fmt: skip
    problems.install(app)
    app.add_middleware(AuditMiddleware, log=log)
    spec = openapi_spec(ctx.api)
    app.openapi = lambda: spec

    @app.post("/oauth/token", include_in_schema=False)
    async def token(request: Request):
        return await _token(request, ctx)

    @app.get("/.well-known/jwks.json", include_in_schema=False)
    def jwks():
        return JSONResponse(ctx.signer.jwks, headers={"Cache-Control": "max-age=300"})

    @app.get("/v1/{dataset}", include_in_schema=False)
    def rows(dataset: str, request: Request):
        return list_rows(request, ctx, dataset)

    @app.get("/v1/{dataset}/{key}", include_in_schema=False)
    def row(dataset: str, key: str, request: Request):
        return one_row(request, ctx, dataset, key)

    return app
