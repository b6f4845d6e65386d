"""`GET /v1/<dataset>` and `GET /v1/<dataset>/<id>`: authorize, limit, query the snapshot, mask.

Which personal fields come back clear: those whose kind both the token's scopes
(``personal:<dataset>:<kind>``) and the app's current grant allow; every other personal field
is masked, and may not be filtered or sorted on (that would reveal it one guess at a time).
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, replace
from datetime import date, datetime
from decimal import Decimal

from fastapi import Request
from fastapi.responses import JSONResponse, Response

from tributary.contracts.api import MART_SCHEMA, Api, Dataset
from tributary.identifiers import ident
from tributary.serve.apps import AppStore, Grant, granted_scopes
from tributary.serve.limits import RateLimiter
from tributary.serve.problems import Problem
from tributary.serve.query import (
    Query,
    QueryError,
    convert,
    encode_cursor,
    page_sql,
    parse_query,
    row_filters,
    row_sql,
)
from tributary.serve.signing import RequestSigning, SignatureError
from tributary.serve.snapshot import CATALOG, NoSnapshot, QueryTimeout, Reading, Snapshot
from tributary.serve.tokens import Claims, Signer, TokenError

MASK = "***"
BEARER = {"WWW-Authenticate": 'Bearer realm="tributary"'}


@dataclass
class Context:
    api: Api
    signer: Signer
    store: AppStore
    limiter: RateLimiter
    snapshot: Snapshot
    signing: RequestSigning | None = None  # AK/SK, when TRIBUTARY_API_AKSK_KEY is set


@contextmanager
def reading(ctx: Context) -> Iterator[Reading]:
    """The snapshot current now, for this request; 503 before the first publish."""
    try:
        with ctx.snapshot.cursor() as current:
            yield current
    except NoSnapshot as exc:
        raise Problem(
            503,
            f"{exc}: try again after `tributary run`",
            title="No snapshot",
            headers={"Retry-After": "60"},
        ) from None


def relation(dataset: Dataset) -> str:
    return f"{CATALOG}.{ident(MART_SCHEMA)}.{ident(dataset.model)}"


def _signed(request: Request, ctx: Context) -> Claims:
    """An AK/SK-signed request's app, with every scope its grants give."""
    if ctx.signing is None:
        raise Problem(401, "AK/SK signing is not enabled on this server: use a bearer token")
    try:
        access_key = ctx.signing.verify(
            request.method, request.url.path, request.query_params.multi_items(), request.headers
        )
    except SignatureError as exc:
        raise Problem(401, f"signed request refused: {exc}") from None
    app = ctx.store.app_for_key(access_key)
    if app is None:
        raise Problem(401, "unknown or revoked access key")
    return Claims(app, frozenset(granted_scopes(ctx.store.grants(app))), 0)


def _claims(request: Request, ctx: Context) -> Claims:
    if "x-tributary-key" in request.headers:
        return _signed(request, ctx)
    signer = ctx.signer
    scheme, _, token = request.headers.get("authorization", "").partition(" ")
    if scheme.lower() != "bearer" or not token:
        raise Problem(401, "no bearer token: get one from POST /oauth/token", headers=BEARER)
    try:
        return signer.verify(token.strip())
    except TokenError as exc:
        headers = {"WWW-Authenticate": 'Bearer realm="tributary", error="invalid_token"'}
        raise Problem(401, f"token {exc}", headers=headers) from None


def authorize(request: Request, ctx: Context, name: str) -> tuple[Dataset, Grant, frozenset[str]]:
    """The dataset, the app's grant on it and the personal kinds it may see, or a Problem."""
    claims = _claims(request, ctx)
    request.state.audit["app"] = claims.app
    grants = ctx.store.grants(claims.app)
    if not grants and not ctx.store.grants(claims.app, date.min):
        raise Problem(401, f"app {claims.app!r} is revoked or has no grants", headers=BEARER)
    dataset = ctx.api.datasets.get(name)
    if dataset is None:
        raise Problem(404, f"no dataset {name[:60]!r}: see /openapi.json")
    if f"read:{name}" not in claims.scopes:
        raise Problem(403, f"the token lacks the scope read:{name}", title="Insufficient scope")
    grant = grants.get(name)
    if grant is None:
        raise Problem(403, f"app {claims.app!r} has no current grant on {name} (expired?)")
    wait = ctx.limiter.take((claims.app, name), grant.rate)
    if wait:
        raise Problem(429, f"more than {grant.rate} requests a minute on {name}",
                      headers={"Retry-After": str(wait)})  # fmt: skip
    clear = frozenset(k for k in grant.personal if f"personal:{name}:{k}" in claims.scopes)
    return dataset, grant, clear


def _masked(dataset: Dataset, clear: frozenset[str]) -> set[str]:
    return {f.name for f in dataset.fields.values() if f.personal and f.personal not in clear}


def _plain(value: object) -> object:
    if isinstance(value, Decimal):
        return str(value)
    if isinstance(value, date | datetime):
        return value.isoformat()
    return value


def _records(columns: list[str], rows: list[tuple], masked: set[str]) -> list[dict]:
    return [
        {
            c: MASK if c in masked and v is not None else _plain(v)
            for c, v in zip(columns, row, strict=True)
        }
        for row in rows
    ]


def _next_url(request: Request, cursor: str) -> str:
    return str(request.url.remove_query_params("cursor").include_query_params(cursor=cursor))


def _check_masked(query: Query, masked: set[str]) -> None:
    used = {name for name, _, _ in query.filters} | {query.sort}
    hidden = sorted(used & masked)
    if hidden:
        raise Problem(403, f"{', '.join(hidden)}: personal, and the token may not see it",
                      title="Insufficient scope")  # fmt: skip


def _grant_rows(dataset: Dataset, grant: Grant):
    try:
        return row_filters(dataset, grant.rows)
    except (KeyError, QueryError):  # the dataset changed under the grant: refuse, never widen
        raise Problem(403, f"the grant's row filter no longer fits {dataset.name}") from None


def list_rows(request: Request, ctx: Context, name: str) -> Response:
    dataset, grant, clear = authorize(request, ctx, name)
    request.state.audit["personal"] = {f.name for f in dataset.fields.values() if f.personal}
    try:
        query = parse_query(dataset, request.query_params.multi_items(), ctx.api.page_size)
    except QueryError as exc:
        raise Problem(exc.status, exc.detail, title=exc.title) from None
    masked = _masked(dataset, clear)
    _check_masked(query, masked)
    query = replace(query, filters=query.filters + _grant_rows(dataset, grant))
    sql, params = page_sql(dataset, query, relation(dataset))
    with reading(ctx) as current:
        if query.version is not None and query.version != current.version:
            detail = (
                f"the snapshot was published again (at {current.version}) since this cursor's "
                "page: start again without a cursor"
            )
            raise Problem(409, detail, title="Snapshot changed")
        columns, rows = _fetch(current, sql, params, ctx.api.query_seconds)
    more = len(rows) > query.limit
    rows = rows[: query.limit]
    headers = {}
    next_url = None
    if more:
        last = dict(zip(columns, rows[-1], strict=True))
        order = ("-" if query.descending else "") + query.sort
        next_url = _next_url(
            request, encode_cursor(last[query.sort], last[dataset.id], current.version, order)
        )
        headers["Link"] = f'<{next_url}>; rel="next"'
    records = [{f: r[f] for f in query.fields} for r in _records(columns, rows, masked)]
    request.state.audit["rows"] = len(records)
    if query.format == "csv":
        return Response(_csv(query.fields, records), media_type="text/csv", headers=headers)
    return JSONResponse({"data": records, "next": next_url}, headers=headers)


def _fetch(reading: Reading, sql: str, params: list, seconds: float):
    try:
        return reading.fetch(sql, params, seconds)
    except QueryTimeout as exc:
        raise Problem(503, f"the query {exc}: narrow the filters", title="Query timeout") from None


def _csv(fields: tuple[str, ...], records: list[dict]) -> str:
    out = io.StringIO()
    writer = csv.DictWriter(out, fieldnames=fields, lineterminator="\n")
    writer.writeheader()
    writer.writerows(records)
    return out.getvalue()


def one_row(request: Request, ctx: Context, name: str, key: str) -> Response:
    dataset, grant, clear = authorize(request, ctx, name)
    try:
        value = convert(dataset.fields[dataset.id], key)
    except QueryError as exc:
        raise Problem(400, exc.detail) from None
    columns = list(dataset.fields)
    sql, params = row_sql(dataset, relation(dataset), value, _grant_rows(dataset, grant))
    with reading(ctx) as current:
        _, rows = _fetch(current, sql, params, ctx.api.query_seconds)
    request.state.audit["rows"] = len(rows)
    if not rows:
        raise Problem(404, f"no {name} with {dataset.id} {key[:60]!r}")
    return JSONResponse(_records(columns, rows, _masked(dataset, clear))[0])
