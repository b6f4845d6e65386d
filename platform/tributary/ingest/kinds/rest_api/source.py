"""REST API sources: dlt's rest_api source, extended through its own extension points.

The ``rest_api`` section (validated by ``contracts.rest_api.RestApi``) goes to dlt as it is, except
that Tributary's keys become objects dlt's config accepts:

- one ``RestSession`` per source as ``client.session``: the pace, the retries, the pages
  fetched ahead, and secrets redacted from errors and logs;
- auth instances built once per section, so all resources share one OAuth2 token;
- a paginator instance per resource, so a page cap names the resource it stopped;
- ``incremental.lookback`` as dlt's ``lag``;
- declared ``columns`` (``total: decimal(10,2)``) as dlt's column hints.

Nothing connects while the source is built: a token is fetched with the first request.
"""

from collections.abc import Mapping, Sequence
from typing import Any

from dlt.common.schema import Schema
from dlt.extract.source import DltSource
from dlt.sources.helpers.rest_client.detector import single_entity_path
from dlt.sources.rest_api import rest_api_source

from tributary.contracts.columns import declared_hints
from tributary.contracts.rest_api import Auth, Endpoint, Paginator, Resource, RestApi
from tributary.ingest.kinds.rest_api.auth import build_auth
from tributary.ingest.kinds.rest_api.http import RestSession
from tributary.ingest.kinds.rest_api.paging import build_paginator

# Tributary's client keys: they configure the session, dlt never sees them.
SESSION_KEYS = {"requests_per_second", "retries", "backoff", "timeout"}


def rest_source(
    config: RestApi | Mapping[str, Any], schema: Schema, redact: Sequence[str] = ()
) -> DltSource:
    """The dlt source for a ``rest_api`` section (client, resource_defaults, resources).

    ``redact``: more values to keep out of errors and logs (secrets placed outside ``auth``,
    e.g. a key in ``params`` or ``headers``).
    """
    section = config if isinstance(config, RestApi) else RestApi.model_validate(config)
    return rest_api_source(dlt_config(section, redact), schema=schema)


def dlt_config(section: RestApi, redact: Sequence[str] = ()) -> dict[str, Any]:
    """dlt's ``rest_api`` config for a section, Tributary's keys turned into objects."""
    session = _session(section, redact)
    client = section.client
    config: dict[str, Any] = {
        "client": {
            **_without(client.model_dump(by_alias=True), SESSION_KEYS | {"auth", "paginator"}),
            "session": session,
        },
        "resources": [_resource(r, section, session) for r in section.resources],
    }
    if client.auth is not None:
        config["client"]["auth"] = _auth(client.auth, session)
    if section.resource_defaults is not None:
        defaults = section.resource_defaults
        config["resource_defaults"] = defaults.model_dump(by_alias=True)
        if defaults.columns:
            config["resource_defaults"]["columns"] = declared_hints(defaults.columns)
        if defaults.endpoint is not None:
            endpoint = _endpoint(defaults.endpoint, session)
            config["resource_defaults"]["endpoint"] = endpoint
    return config


def _endpoints(section: RestApi) -> list[Endpoint]:
    defaults = section.resource_defaults
    candidates = [defaults.endpoint if defaults else None, *(r.endpoint for r in section.resources)]
    return [e for e in candidates if e is not None]


def _session(section: RestApi, redact: Sequence[str]) -> RestSession:
    """The source's session, its pool as wide as the most concurrent paginator."""
    client, endpoints = section.client, _endpoints(section)
    paginators = [p for p in (client.paginator, *(e.paginator for e in endpoints)) if p]
    auths = [a for a in (client.auth, *(e.auth for e in endpoints)) if a]
    return RestSession(
        timeout_s=client.timeout,
        retries=client.retries,
        backoff_s=client.backoff,
        requests_per_second=client.requests_per_second,
        workers=max((p.concurrency for p in paginators), default=1),
        secrets=[*(secret for auth in auths for secret in auth.secrets()), *redact],
    )


def _auth(auth: Auth, session: RestSession) -> Any:
    return build_auth(auth.model_dump(by_alias=True), session)


def _endpoint(endpoint: Endpoint, session: RestSession) -> dict[str, Any]:
    """dlt's endpoint config: auth built, lookback as lag; the paginator is set per resource."""
    config = _without(endpoint.model_dump(by_alias=True), {"paginator"})
    if endpoint.auth is not None:
        config["auth"] = _auth(endpoint.auth, session)
    if endpoint.incremental is not None:
        incremental = _without(endpoint.incremental.model_dump(by_alias=True), {"lookback"})
        lag = endpoint.incremental.lag_value()
        config["incremental"] = incremental | ({"lag": lag} if lag is not None else {})
    return config


def _resource(resource: Resource, section: RestApi, session: RestSession) -> dict[str, Any]:
    """dlt's resource config, with a paginator of its own (its cap names the resource) and the
    write disposition the load-mode rule gives it (a key merges, never appends)."""
    config = resource.model_dump(by_alias=True)
    config["write_disposition"] = section.write_disposition(resource)
    if resource.columns:
        config["columns"] = declared_hints(resource.columns)
    config["endpoint"] = _endpoint(resource.endpoint, session) if resource.endpoint else {}
    paginator = _paginator_of(resource, section)
    if paginator is not None:
        config["endpoint"]["paginator"] = build_paginator(
            paginator.model_dump(by_alias=True), resource.name, session
        )
    return config


def _paginator_of(resource: Resource, section: RestApi) -> Paginator | None:
    """The paginator dlt would use: the endpoint's, the defaults', else the client's (unless
    the path names a single record, which dlt reads as one page)."""
    defaults = section.resource_defaults
    for endpoint in (resource.endpoint, defaults.endpoint if defaults else None):
        if endpoint is not None and endpoint.paginator is not None:
            return endpoint.paginator
    path = resource.endpoint.path if resource.endpoint else None
    return None if single_entity_path(path or resource.name) else section.client.paginator


def _without(config: dict[str, Any], keys: set[str]) -> dict[str, Any]:
    return {key: value for key, value in config.items() if key not in keys}
