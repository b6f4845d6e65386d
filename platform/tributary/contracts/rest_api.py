"""The ``rest_api`` section of a source file: dlt's own keys, plus Tributary's where they live.

Every key dlt's ``rest_api`` source accepts is read from dlt's own TypedDicts, so it passes
through untouched (dlt validates its value) while a misspelt key is caught here, with its line
and a did-you-mean, like everywhere else in a source file. Tributary adds:

- ``client``: ``requests_per_second`` (one steady pace for the whole source), ``retries`` and
  ``backoff`` (on 429, 5xx, timeouts and dropped connections; ``Retry-After`` wins over
  backoff), ``timeout`` (seconds per request).
- ``paginator`` (client or endpoint): ``max_pages``, a cap that fails the load instead of
  stopping silently, and ``concurrency``: pages fetched at once by ``page_number`` and
  ``offset`` paginators once the first response tells the total.
- ``incremental``: ``lookback``, how far behind the last cursor value the next load starts
  (``2h``, ``30m``, ``1d`` or a number of cursor units), so late-arriving rows are caught.
- ``auth``: ``type: none``, ``type: hmac`` (signed requests) and ``refresh_margin`` for OAuth2.
- ``columns`` (resource or defaults): declared types, ``total: decimal(10,2)`` (``columns.py``).

A resource without ``write_disposition`` gets the one every kind's rule gives it
(``load_mode.py``): merge with a ``primary_key``, append when incremental, else replace.
"""

import hashlib
import re
from collections.abc import Iterable
from datetime import date, datetime
from typing import Annotated, Any, ClassVar, Literal, get_args

from dlt.sources.rest_api import typing as dlt_typing
from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    Field,
    create_model,
    model_serializer,
)
from pydantic import model_validator as validator

from tributary.contracts.columns import COLUMNS_DESCRIPTION, RestColumns
from tributary.contracts.load_mode import LoadMode, load_mode, write_disposition
from tributary.contracts.specfile import NAME_PATTERN, Strict

# The keys a source file may give for Tributary's own auth classes (``HmacAuth`` in
# ingest/kinds/rest_api/auth.py, and ``RefreshingOAuth2`` beyond dlt's OAuth2 keys); a unit
# test holds them equal.
HMAC_KEYS = frozenset(
    {"access_key", "secret_key", "algorithm", "access_key_header", "timestamp_header",
     "signature_header"}
)  # fmt: skip
OAUTH2_KEYS = frozenset({"refresh_margin"})


def _keys(typed_dict: type) -> set[str]:
    """The keys of one of dlt's config TypedDicts (inherited ones included)."""
    return set(typed_dict.__annotations__)


# Paginator type -> dlt's keys for it.
PAGINATORS: dict[str, set[str]] = {
    name: _keys(config)
    for name, config in {
        "page_number": dlt_typing.PageNumberPaginatorConfig,
        "offset": dlt_typing.OffsetPaginatorConfig,
        "cursor": dlt_typing.JSONResponseCursorPaginatorConfig,
        "json_link": dlt_typing.JSONLinkPaginatorConfig,
        "header_link": dlt_typing.HeaderLinkPaginatorConfig,
        "header_cursor": dlt_typing.HeaderCursorPaginatorConfig,
        "single_page": dlt_typing.PaginatorTypeConfig,
        "auto": dlt_typing.PaginatorTypeConfig,
    }.items()
}
NUMBERED = {"page_number", "offset"}  # the paginators that may fetch pages concurrently

# Auth type -> (its keys, the keys it cannot do without). dlt's types keep dlt's names.
AUTHS: dict[str, tuple[set[str], set[str]]] = {
    "none": ({"type"}, set()),
    "bearer": (_keys(dlt_typing.BearerTokenAuthConfig), {"token"}),
    "api_key": (_keys(dlt_typing.ApiKeyAuthConfig), {"api_key"}),
    "http_basic": (_keys(dlt_typing.HttpBasicAuthConfig), {"username", "password"}),
    "oauth2_client_credentials": (
        _keys(dlt_typing.OAuth2ClientCredentialsConfig) - {"session"} | OAUTH2_KEYS,
        {"access_token_url", "client_id", "client_secret"},
    ),
    "hmac": ({"type"} | HMAC_KEYS, {"access_key", "secret_key"}),
}
SECRET_KEYS = {"token", "api_key", "password", "client_secret", "access_token", "secret_key"}

_DURATION = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*([smhdw])\s*$")
_SECONDS = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800}


def duration_seconds(text: str) -> float:
    """``90s``, ``30m``, ``2h``, ``1d`` or ``1w`` in seconds."""
    match = _DURATION.match(text)
    if not match:
        raise ValueError(f"{text!r} is not a duration: write e.g. 30m, 2h, 1d, or a number")
    return float(match[1]) * _SECONDS[match[2]]


def positive_duration(value: Any) -> Any:
    """A declared duration (``90m``, ``26h``, ``3d``) longer than zero, stripped; None passes."""
    if value is None:
        return value
    if not isinstance(value, str):
        raise ValueError("write a duration with its unit, e.g. 90m, 26h or 3d")
    try:
        seconds = duration_seconds(value)
    except ValueError:
        raise ValueError(f"{value!r} is not a duration: write e.g. 90m, 26h or 3d") from None
    if seconds <= 0:
        raise ValueError("a duration must be longer than zero")
    return value.strip()


Duration = Annotated[str, BeforeValidator(positive_duration)]  # e.g. repeat_after: 4h


_SCHEMES = ("http", "https")  # what a REST source may reach; file:// and friends are refused
_SCHEME = re.compile(r"^\s*([A-Za-z][A-Za-z0-9+.-]*):")


def web_url(value: str) -> str:
    """An http(s) URL, or one that starts with a ``${REFERENCE}`` (checked once resolved)."""
    if value.lstrip().startswith("${"):
        return value
    scheme = _SCHEME.match(value)
    if scheme is None or scheme[1].lower() not in _SCHEMES or "://" not in value:
        given = f"`{scheme[1]}:`" if scheme else "no scheme"
        raise ValueError(f"{given} is not a web URL: give an http:// or https:// URL")
    return value


def _web_path(value: Any) -> Any:
    """An endpoint path is relative to base_url; one that is a whole URL must be a web URL."""
    if isinstance(value, str) and "://" in value:
        web_url(value)
    return value


WebUrl = Annotated[str, AfterValidator(web_url)]


def is_date_cursor(initial_value: Any) -> bool:
    """A date (not date-time) cursor: dlt counts its lag in days, not seconds."""
    if isinstance(initial_value, str):
        return bool(re.fullmatch(r"\d{4}-\d{2}-\d{2}|\d{8}", initial_value.strip()))
    return isinstance(initial_value, date) and not isinstance(initial_value, datetime)


class Section(Strict):
    """A part of the ``rest_api`` section.

    Dumps only the keys the file gave, so an explicit ``null`` (``total_path: null``: this API
    tells no total) survives the round trip through ``resolve_env`` and stays distinct from an
    absent key (dlt's default). Reads also work dict-style (``section["resources"]``), as they
    did when the section was a plain dict.
    """

    @model_serializer(mode="wrap")
    def _given_keys_only(self, handler: Any) -> dict[str, Any]:
        data = handler(self)
        fields = type(self).model_fields
        given = {key for name in self.model_fields_set for key in (name, fields[name].alias)}
        return {key: value for key, value in data.items() if key in given}

    def __getitem__(self, key: str) -> Any:
        for name, field in type(self).model_fields.items():
            if key in (name, field.alias):
                return getattr(self, name)
        raise KeyError(key)


def _with_dlt_keys(base: type[Section], keys: Iterable[str], skip: Iterable[str] = ()) -> Any:
    """``base`` plus each of dlt's ``keys`` it does not declare itself, as an optional field.

    dlt's keys take any value here: dlt checks the values when the source is built.
    """
    fields: dict[str, Any] = {}
    for key in sorted(set(keys) - set(skip) - set(base.model_fields)):
        # `json` is a pydantic method name: that field is `json_`, and keeps `json` as alias.
        name = f"{key}_" if hasattr(BaseModel, key) else key
        about = f"dlt's own `{key}`, passed to dlt as is (see dlt's rest_api documentation)."
        fields[name] = (Any, Field(None, alias=key if name != key else None, description=about))
    return create_model(base.__name__.lstrip("_"), __base__=base, __module__=__name__, **fields)


def _named_type(value: Any) -> Any:
    """dlt's shorthand: a bare string names the type (``paginator: json_link``)."""
    return {"type": value} if isinstance(value, str) else value


class _Paginator(Section):
    type: Literal[tuple(PAGINATORS)]  # type: ignore[valid-type]
    max_pages: int | None = Field(
        None,
        ge=1,
        description="Fail the load, naming the resource, when the API has more pages than "
        "this (a runaway cursor, a filter that stopped working) instead of stopping silently "
        "or looping forever. Default 100,000.",
    )
    concurrency: int = Field(
        1,
        ge=1,
        le=64,
        description="page_number and offset only: once the first response tells the total, "
        "fetch this many of the remaining pages at once (order kept, rate limit respected).",
    )

    @validator(mode="after")
    def _keys_fit_type(self) -> "_Paginator":
        allowed = PAGINATORS[self.type] | {"max_pages"}
        if self.type in NUMBERED:
            allowed |= {"concurrency"}
        if self.type == "auto":  # dlt guesses the paginator: nothing to cap or spread
            allowed = {"type"}
        wrong = sorted(self.model_fields_set - allowed)
        if wrong:
            raise ValueError(
                f"paginator type {self.type!r} takes no `{'`, `'.join(wrong)}` "
                f"(it takes: {', '.join(sorted(allowed - {'type'})) or 'nothing more'})"
            )
        return self


class _Auth(Section):
    type: Literal[tuple(AUTHS)]  # type: ignore[valid-type]
    access_token_url: WebUrl | None = None
    location: Literal["header", "query", "param"] | None = None
    algorithm: str | None = Field(None, description="hmac: any hashlib name (sha256).")
    refresh_margin: float | None = Field(
        None, ge=0, description="oauth2: renew the token this many seconds before it expires."
    )

    @validator(mode="after")
    def _keys_fit_type(self) -> "_Auth":
        keys, required = AUTHS[self.type]
        wrong = sorted(self.model_fields_set - keys)
        if wrong:
            raise ValueError(
                f"auth type {self.type!r} takes no `{'`, `'.join(wrong)}` "
                f"(it takes: {', '.join(sorted(keys - {'type'})) or 'nothing more'})"
            )
        missing = sorted(key for key in required if not getattr(self, key))
        if missing:
            raise ValueError(f"auth type {self.type!r} needs `{'`, `'.join(missing)}`")
        if self.algorithm and self.algorithm not in hashlib.algorithms_available:
            raise ValueError(f"unknown algorithm {self.algorithm!r}: use e.g. sha256 or sha512")
        return self

    def secrets(self) -> list[str]:
        """The values that must never be shown (in errors, logs, metadata)."""
        return [str(self[key]) for key in sorted(SECRET_KEYS & self.model_fields_set) if self[key]]


class _Incremental(Section):
    lookback: float | str | None = Field(
        None,
        description="Start each load this far behind the last cursor value (e.g. 2h, 30m, "
        "1d, or a number of cursor units) to catch late rows; merge on the primary key keeps "
        "the re-fetched ones from doubling. Becomes dlt's `lag`.",
    )

    @validator(mode="after")
    def _one_lookback(self) -> "_Incremental":
        if self.lookback is not None and self.lag is not None:
            raise ValueError("give `lookback` or dlt's `lag`, not both")
        self.lag_value()  # a malformed duration is reported here, with its line
        return self

    def lag_value(self) -> float | None:
        """dlt's ``lag``: seconds for a date-time cursor, days for a date, units for a number."""
        if not isinstance(self.lookback, str):
            if self.lookback is not None and self.lookback < 0:
                raise ValueError("lookback cannot be negative")
            return self.lag if self.lookback is None else self.lookback
        seconds = duration_seconds(self.lookback)
        if not is_date_cursor(self.initial_value):
            return seconds
        if seconds % 86400:
            raise ValueError(f"a date cursor looks back whole days, not {self.lookback!r}")
        return seconds / 86400


Paginator = _with_dlt_keys(_Paginator, set().union(*PAGINATORS.values()))
Auth = _with_dlt_keys(_Auth, set().union(*(keys for keys, _ in AUTHS.values())))
Incremental = _with_dlt_keys(_Incremental, _keys(dlt_typing.IncrementalConfig))

PaginatorField = Annotated[Paginator | None, BeforeValidator(_named_type)]
AuthField = Annotated[Auth | None, BeforeValidator(_named_type)]


class _Endpoint(Section):
    path: Annotated[str | None, AfterValidator(_web_path)] = None
    paginator: PaginatorField = None
    auth: AuthField = None
    incremental: Incremental | None = None


Endpoint = _with_dlt_keys(_Endpoint, _keys(dlt_typing.Endpoint))
EndpointField = Annotated[
    Endpoint | None, BeforeValidator(lambda v: {"path": v} if isinstance(v, str) else v)
]


class _ResourceDefaults(Section):
    endpoint: EndpointField = None
    columns: RestColumns | None = Field(None, description=COLUMNS_DESCRIPTION)


class _Resource(Section):
    # The raw table and asset key are this name: dlt would rename `staffList` to `staff_list`
    # and the asset would point at a table that does not exist.
    name: str = Field(pattern=NAME_PATTERN)
    endpoint: EndpointField = None
    columns: RestColumns | None = Field(None, description=COLUMNS_DESCRIPTION)


class _Client(Section):
    base_url: WebUrl = Field(description="http(s) URL of the API, usually `${SOME_ENV_VAR}`.")
    auth: AuthField = None
    paginator: PaginatorField = None
    requests_per_second: float | None = Field(
        None, gt=0, description="One steady pace for every request of this source."
    )
    retries: int = Field(
        4, ge=0, le=20, description="Retries after a 429, a 5xx, a timeout or a dropped line."
    )
    backoff: float = Field(
        1.0, ge=0, description="Seconds before the first retry, doubling after each."
    )
    timeout: float = Field(60.0, gt=0, description="Seconds to wait for each response.")


ResourceDefaults = _with_dlt_keys(_ResourceDefaults, _keys(dlt_typing.EndpointResourceBase))
Resource = _with_dlt_keys(_Resource, _keys(dlt_typing.EndpointResource))
# The session is Tributary's: it carries the pace, the retries and the concurrent fetches.
Client = _with_dlt_keys(_Client, _keys(dlt_typing.ClientConfig), skip={"session"})


class RestApi(Section):
    """A REST API source: dlt's ``rest_api`` configuration, with Tributary's keys."""

    client: Client
    resource_defaults: ResourceDefaults | None = None
    resources: list[
        Annotated[Resource, BeforeValidator(lambda v: {"name": v} if isinstance(v, str) else v)]
    ] = Field(min_length=1)
    # The raw columns that place a row in its delivery (see contracts/filesystem.py): none.
    ROW_POSITION: ClassVar[dict[str, str]] = {}

    def table_names(self) -> list[str]:
        return [r if isinstance(r, str) else r["name"] for r in self.resources]

    @validator(mode="after")
    def _keys_never_append(self) -> "RestApi":
        for resource in self.resources:
            try:
                self.write_disposition(resource)
            except ValueError as exc:
                raise ValueError(f"resource {resource.name!r}: {exc}") from None
        return self

    def write_disposition(self, resource: Any) -> Any:
        """dlt's write disposition for one resource: the one given (resource, else defaults),
        checked, else the rule every kind follows (``contracts/load_mode.py``)."""
        given = self._given(resource, "write_disposition")
        keyed = self._given(resource, "primary_key")
        if given is None:
            return write_disposition(load_mode(None, keyed, self._incremental(resource)))
        mode: Any = given.get("disposition") if isinstance(given, dict) else given
        if mode == "merge" and isinstance(given, dict) and given.get("strategy") == "scd2":
            mode = "scd2"
        # A merge on a merge_key alone replaces what it matches: keyed enough.
        keyed = keyed or (mode == "merge" and self._given(resource, "merge_key"))
        if mode in get_args(LoadMode):
            load_mode(mode, keyed, self._incremental(resource))
        return given

    def _given(self, resource: Any, key: str) -> Any:
        value = resource[key]
        if value is None and self.resource_defaults is not None:
            value = self.resource_defaults[key]
        return value

    def _incremental(self, resource: Any) -> bool:
        """Whether the resource reads only what is new: an ``incremental`` on its endpoint (or
        the defaults'), or dlt's other spellings (a ``{type: incremental}`` parameter, an
        ``{incremental.start_value}`` placeholder)."""
        defaults = self.resource_defaults
        endpoints = [resource.endpoint, defaults.endpoint if defaults else None]
        return any(
            e is not None and (e.incremental is not None or _mentions_incremental(e.model_dump()))
            for e in endpoints
        )


def _mentions_incremental(value: Any) -> bool:
    if isinstance(value, str):
        return "{incremental." in value
    if isinstance(value, dict):
        return value.get("type") == "incremental" or any(
            _mentions_incremental(v) for v in value.values()
        )
    if isinstance(value, list):
        return any(_mentions_incremental(v) for v in value)
    return False
