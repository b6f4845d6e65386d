"""REST sources written only in YAML, against a real API on loopback (rest_zoo).

Each feature is exercised from a source file, read and built the way Tributary reads and
builds every source; the zoo counts what it was asked, so the tests check how the API was
called (pages, tokens, retries, pace, concurrency), not only what arrived.
"""

import logging
import textwrap
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import dagster as dg
import duckdb
import pytest
from dagster_dlt import DagsterDltResource
from rest_zoo import ACCESS_KEY, CLIENT_ID, USERNAME, HmacScheme, RestZoo

from tributary.contracts.source import SourceSpec, SpecErrors, load_spec
from tributary.ingest.assets import source_assets
from tributary.ingest.pipeline import pipeline_for
from tributary.ingest.sources import build_source

PAGES = "{type: page_number, base_page: 1, total_path: meta.total_pages}"


def source_file(tmp_path: Path, rest_api: str) -> SourceSpec:
    """A source file ``zoo.yaml`` with this ``rest_api`` section, read like any other."""
    path = tmp_path / "zoo.yaml"
    section = textwrap.indent(textwrap.dedent(rest_api).strip(), "  ")
    path.write_text(f"name: zoo\nkind: rest_api\nrest_api:\n{section}\n", encoding="utf-8")
    return load_spec(path)


def items_file(
    tmp_path: Path, client: str = "", paginator: str = PAGES, **endpoint: str
) -> SourceSpec:
    """One resource ``items`` read from ``/pages`` (or another endpoint), 5 records a page."""
    endpoint = {"path": "pages", "data_selector": "data", "params": "{page_size: 5}", **endpoint}
    lines = "\n".join(f"      {key}: {value}" for key, value in endpoint.items())
    return source_file(
        tmp_path,
        f"""
client:
  base_url: ${{ZOO_URL}}
  paginator: {paginator}
{textwrap.indent(textwrap.dedent(client).strip(), "  ")}
resources:
  - name: items
    endpoint:
{lines}
""",
    )


def fetch(spec: SourceSpec, zoo: RestZoo, resource: str = "items") -> list[dict[str, Any]]:
    """Every record of one resource, straight from the dlt source (no pipeline, no DuckDB)."""
    return list(build_source(spec, environ=zoo.env).resources[resource])


def ids(rows: list[dict[str, Any]]) -> list[int]:
    return [row["id"] for row in rows]


def messages(error: BaseException | None) -> str:
    """Every message in an exception chain, as a person reading the failure would see it."""
    seen = []
    while error is not None:
        seen.append(f"{type(error).__name__}: {error}")
        error = error.__cause__ or error.__context__
    return "\n".join(seen)


# Authentication -----------------------------------------------------------------------------

AUTHS = {
    "none": ("none", "{type: none}", HmacScheme()),
    "api_key_header": (
        "api_key_header",
        '{type: api_key, name: X-API-Key, api_key: "${ZOO_SECRET}", location: header}',
        HmacScheme(),
    ),
    "api_key_query": (
        "api_key_query",
        '{type: api_key, name: auth_code, api_key: "${ZOO_SECRET}", location: query}',
        HmacScheme(),
    ),
    "bearer": ("bearer", '{type: bearer, token: "${ZOO_SECRET}"}', HmacScheme()),
    "basic": (
        "basic",
        f'{{type: http_basic, username: {USERNAME}, password: "${{ZOO_SECRET}}"}}',
        HmacScheme(),
    ),
    "oauth2": (
        "oauth2",
        f'{{type: oauth2_client_credentials, access_token_url: "${{ZOO_URL}}/oauth/token", '
        f'client_id: {CLIENT_ID}, client_secret: "${{ZOO_SECRET}}"}}',
        HmacScheme(),
    ),
    "hmac": (
        "hmac",
        f'{{type: hmac, access_key: {ACCESS_KEY}, secret_key: "${{ZOO_SECRET}}"}}',
        HmacScheme(),
    ),
    "hmac_sha512_own_headers": (
        "hmac",
        f'{{type: hmac, access_key: {ACCESS_KEY}, secret_key: "${{ZOO_SECRET}}", '
        "algorithm: sha512, access_key_header: X-Key-Id, timestamp_header: X-Date, "
        "signature_header: X-Sig}",
        HmacScheme("sha512", "X-Key-Id", "X-Date", "X-Sig"),
    ),
}


@pytest.mark.parametrize("style", AUTHS)
def test_each_auth_style_reaches_the_api(tmp_path: Path, style: str) -> None:
    mode, auth, scheme = AUTHS[style]
    spec = items_file(tmp_path, client=f"auth: {auth}")
    with RestZoo(12, auth=mode, hmac_scheme=scheme) as zoo:
        rows = fetch(spec, zoo)
    assert ids(rows) == list(range(1, 13))
    assert zoo.statuses[401] == 0 and zoo.hits["/pages"] == 3


def test_oauth2_token_is_shared_and_renewed_before_it_expires(tmp_path: Path) -> None:
    _, auth, _ = AUTHS["oauth2"]
    spec = source_file(
        tmp_path,
        f"""
        client:
          base_url: ${{ZOO_URL}}
          auth: {auth}
        resources:
          - name: items
            endpoint:
              path: pages
              data_selector: data
              params: {{page_size: 2}}
              paginator: {PAGES}
          - name: more
            endpoint:
              path: offset
              data_selector: items
              paginator: {{type: offset, limit: 2}}
        """,
    )
    # Tokens live 2 s and are renewed after half of that; the walk takes about 2 s.
    with RestZoo(10, auth="oauth2", token_ttl_s=2, latency_s=0.2) as zoo:
        build_source(spec)  # definition time: unresolved ${VARS}, and no request at all
        assert zoo.tokens_issued == 0 and not zoo.hits
        source = build_source(spec, environ=zoo.env)
        rows = list(source.resources["items"]) + list(source.resources["more"])
    assert ids(rows) == list(range(1, 11)) * 2
    requests = zoo.hits["/pages"] + zoo.hits["/offset"]
    assert 2 <= zoo.tokens_issued < requests / 2  # shared by both resources, renewed in time
    assert zoo.statuses[401] == 0  # renewed before expiry, never after


def test_oauth2_renews_once_on_401_then_gives_up_without_showing_the_secret(
    tmp_path: Path,
) -> None:
    spec = items_file(tmp_path, client=f"auth: {AUTHS['oauth2'][1]}", params="{page_size: 2}")
    with RestZoo(10, auth="oauth2", revoke_every=2) as zoo:  # tokens revoked early
        rows = fetch(spec, zoo)
    assert ids(rows) == list(range(1, 11))
    assert zoo.statuses[401] >= 1
    assert zoo.tokens_issued == zoo.statuses[401] + 1  # one new token per 401, then retried

    with RestZoo(10, auth="oauth2", token_ttl_s=0) as zoo:  # every token is dead on arrival
        with pytest.raises(Exception) as failure:
            fetch(spec, zoo)
    assert zoo.tokens_issued == 2 and zoo.statuses[401] == 2  # one renewal, not a loop
    assert "401" in messages(failure.value) and zoo.secret not in messages(failure.value)


# Pagination ---------------------------------------------------------------------------------

STYLES = {
    # name: (paginator, endpoint path, data_selector, requests for 12 records)
    "page_number_total": (PAGES, "pages", "data", 3),
    "page_number_has_more": (
        "{type: page_number, base_page: 1, total_path: null, has_more_path: meta.has_more}",
        "pages",
        "data",
        3,
    ),
    "page_number_empty_page": (
        "{type: page_number, base_page: 1, total_path: null}",
        "pages",
        "data",
        4,  # the empty page past the end is what stops it
    ),
    "offset_total": ("{type: offset, limit: 5, total_path: total}", "offset", "items", 3),
    "cursor_in_body": (
        "{type: cursor, cursor_path: next_cursor, cursor_param: cursor}",
        "cursor",
        "result.records",  # a JSON path into the body
        3,
    ),
    "link_header": ("header_link", "link", "$", 3),
    "next_url_in_body": ("{type: json_link, next_url_path: links.next}", "next_url", "data", 3),
    "cursor_in_header": (
        "{type: header_cursor, cursor_key: X-Next-Cursor, cursor_param: cursor}",
        "header_cursor",
        "$",
        3,
    ),
}


@pytest.mark.parametrize("style", STYLES)
def test_each_pagination_style_reads_every_record_once_and_stops(
    tmp_path: Path, style: str
) -> None:
    paginator, path, selector, requests = STYLES[style]
    params = "{per_page: 5}" if path == "link" else "{page_size: 5}"
    spec = items_file(
        tmp_path, paginator=paginator, path=path, data_selector=f'"{selector}"', params=params
    )
    with RestZoo(12) as zoo:
        rows = fetch(spec, zoo)
    assert ids(rows) == list(range(1, 13))
    assert zoo.hits[f"/{path}"] == requests


@pytest.mark.parametrize(
    ("paginator", "path", "requests", "says"),
    [
        # No total, has_more forever: the cap is met after 4 pages.
        (
            "{type: page_number, base_page: 1, total_path: null, has_more_path: has_more, "
            "max_pages: 4}",
            "endless",
            4,
            "more than max_pages=4",
        ),
        # The first page tells 6 pages: no need to fetch them to know the cap is too low.
        (
            "{type: page_number, base_page: 1, total_path: meta.total_pages, max_pages: 4}",
            "pages",
            1,
            "6 (the API says), more than max_pages=4",
        ),
    ],
)
def test_page_cap_fails_loudly_naming_the_resource(
    tmp_path: Path, paginator: str, path: str, requests: int, says: str
) -> None:
    spec = items_file(tmp_path, paginator=paginator, path=path, params="{page_size: 2}")
    with RestZoo(12) as zoo:
        with pytest.raises(Exception) as failure:
            fetch(spec, zoo)
    assert f"resource `items` has {says} pages" in messages(failure.value)
    assert zoo.hits[f"/{path}"] == requests


@pytest.mark.parametrize(
    "paginator",
    [
        "{type: page_number, base_page: 1, total_path: meta.total_pages, concurrency: 4}",
        "{type: offset, limit: 1, total_path: total, concurrency: 4}",
    ],
)
def test_numbered_pages_are_fetched_concurrently_in_order(tmp_path: Path, paginator: str) -> None:
    path, selector = ("offset", "items") if "offset" in paginator else ("pages", "data")
    spec = items_file(
        tmp_path, paginator=paginator, path=path, data_selector=selector, params="{page_size: 1}"
    )
    with RestZoo(16, latency_s=0.05) as zoo:
        rows = fetch(spec, zoo)
    assert ids(rows) == list(range(1, 17))  # in order, each once
    assert zoo.max_in_flight == 4  # bounded by `concurrency`, and reached
    assert zoo.hits[f"/{path}"] == 16  # nothing fetched twice or past the end


def test_pages_without_a_total_are_fetched_one_at_a_time(tmp_path: Path) -> None:
    paginator = "{type: page_number, base_page: 1, total_path: null, concurrency: 4}"
    spec = items_file(tmp_path, paginator=paginator, params="{page_size: 2}")
    with RestZoo(8, latency_s=0.02) as zoo:
        assert ids(fetch(spec, zoo)) == list(range(1, 9))
    assert zoo.max_in_flight == 1


# Politeness and resilience ------------------------------------------------------------------


def test_rate_limit_holds_across_concurrent_fetches(tmp_path: Path) -> None:
    paginator = "{type: page_number, base_page: 1, total_path: meta.total_pages, concurrency: 4}"
    spec = items_file(
        tmp_path, client="requests_per_second: 20", paginator=paginator, params="{page_size: 1}"
    )
    with RestZoo(12, latency_s=0.1) as zoo:
        assert ids(fetch(spec, zoo)) == list(range(1, 13))
    assert zoo.max_in_flight >= 2  # still concurrent...
    assert zoo.arrivals[-1] - zoo.arrivals[0] >= 11 / 20 - 0.03  # ...yet 12 starts 1/20 s apart


def test_retry_after_is_honoured(tmp_path: Path) -> None:
    # No backoff of its own: only by waiting out Retry-After can the walk get through.
    spec = items_file(tmp_path, client="backoff: 0", params="{page_size: 2}")
    with RestZoo(12, rate_limit=3) as zoo:
        assert ids(fetch(spec, zoo)) == list(range(1, 13))
    assert zoo.statuses[429] >= 1


def test_server_errors_and_timeouts_are_retried_up_to_the_configured_count(
    tmp_path: Path,
) -> None:
    spec = items_file(tmp_path, client="retries: 3\nbackoff: 0.01\ntimeout: 0.3")
    with RestZoo(12, failures=2, stalls=1, stall_s=1.0) as zoo:
        assert ids(fetch(spec, zoo)) == list(range(1, 13))
    assert zoo.statuses[503] == 2

    spec = items_file(tmp_path, client="retries: 2\nbackoff: 0.01")
    with RestZoo(12, failures=5) as zoo:
        with pytest.raises(Exception) as failure:
            fetch(spec, zoo)
    assert "503" in messages(failure.value)
    assert zoo.hits["/pages"] == 3  # the first try and two retries, no more


# Records, parents and children, incremental loads -------------------------------------------


def test_child_endpoints_are_their_own_assets_and_no_secret_reaches_metadata(
    tmp_path: Path, settings: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    spec = source_file(
        tmp_path,
        f"""
        client:
          base_url: ${{ZOO_URL}}
          auth: {AUTHS["api_key_query"][1]}
          paginator: {PAGES}
        resource_defaults:
          primary_key: id
          write_disposition: merge
        resources:
          - name: customers
            endpoint: {{path: pages, data_selector: data}}
          - name: contacts
            primary_key: contact_id
            include_from_parent: [name]
            endpoint:
              path: customers/{{resources.customers.id}}/contacts
              paginator: single_page
        """,
    )
    with RestZoo(7, auth="api_key_query") as zoo:
        assets = source_assets(spec, settings)
        assert not zoo.hits  # built with unresolved ${VARS}: nothing connected
        for name, value in zoo.env.items():
            monkeypatch.setenv(name, value)
        result = dg.materialize([assets], resources={"dlt": DagsterDltResource()})
    assert {key.path[-1] for key in assets.keys} == {"customers", "contacts"}
    assert {key.to_user_string() for key in assets.keys} == {
        "raw_zoo/customers",
        "raw_zoo/contacts",
    }
    assert result.success
    with duckdb.connect(str(settings.warehouse), read_only=True) as con:
        contacts = con.execute(
            "select count(*), count(distinct contact_id), min(_customers_name) "
            "from raw_zoo.contacts"
        ).fetchone()
    assert contacts == (14, 14, "record 1")  # two per customer, each with its parent's name
    metadata = [
        str(event.materialization.metadata) for event in result.get_asset_materialization_events()
    ]
    assert len(metadata) == 2 and not any(zoo.secret in text for text in metadata)


@pytest.mark.parametrize("lookback", ["2h", "7200"])
def test_lookback_refetches_late_rows_and_merge_keeps_one_each(
    tmp_path: Path, settings: Any, lookback: str
) -> None:
    spec = source_file(
        tmp_path,
        f"""
        client:
          base_url: ${{ZOO_URL}}
          paginator: {PAGES}
        resources:
          - name: items
            primary_key: id
            write_disposition: merge
            endpoint:
              path: pages
              data_selector: data
              incremental:
                start_param: updated_since
                cursor_path: updated_at
                initial_value: "2023-12-01T00:00:00Z"
                lookback: {lookback}
        """,
    )
    pipeline = pipeline_for(spec, settings)
    with RestZoo(10) as zoo:  # updated_at 00:00 … 00:09
        pipeline.run(build_source(spec, environ=zoo.env)).raise_on_failed_jobs()
        # A row stamped before the last cursor value arrives only now (a late commit).
        zoo.touch(4, datetime(2024, 1, 1, 0, 8, 30, tzinfo=UTC), "late")
        pipeline.run(build_source(spec, environ=zoo.env)).raise_on_failed_jobs()
    # The second load started 2 h behind the last cursor value, in the cursor's own format.
    assert zoo.since_seen[-1] == "2023-12-31T22:09:00Z"
    with duckdb.connect(str(settings.warehouse), read_only=True) as con:
        loaded = con.execute(
            "select count(*), count(distinct id), max(name = 'late') from raw_zoo.items"
        ).fetchone()
    assert loaded == (10, 10, True)


# Secrets and spec mistakes ------------------------------------------------------------------


@pytest.fixture
def dlt_log() -> Iterator[list[str]]:
    """dlt's log lines at INFO (where it logs each URL it requests)."""
    lines: list[str] = []

    class Lines(logging.Handler):
        def emit(self, record: logging.LogRecord) -> None:
            lines.append(record.getMessage())

    handler = Lines()
    dlt_logger = logging.getLogger("dlt")
    level = dlt_logger.level
    dlt_logger.addHandler(handler)
    dlt_logger.setLevel(logging.INFO)
    yield lines
    dlt_logger.removeHandler(handler)
    dlt_logger.setLevel(level)


def test_a_query_string_secret_stays_out_of_errors_and_logs(
    tmp_path: Path, settings: Any, dlt_log: list[str]
) -> None:
    spec = items_file(tmp_path, client=f"auth: {AUTHS['api_key_query'][1]}\nretries: 1\nbackoff: 0")
    pipeline_for(spec, settings)  # dlt's logger exists once a pipeline does
    with RestZoo(12, auth="api_key_query", failures=5) as zoo:
        with pytest.raises(Exception) as failure:
            fetch(spec, zoo)
    text = messages(failure.value)
    assert "503" in text and "auth_code=***" in text
    assert zoo.secret not in text
    assert any("auth_code=***" in line for line in dlt_log)  # dlt logged the URLs...
    assert not any(zoo.secret in line for line in dlt_log)  # ...without the key


CLIENT = "client:\n  base_url: http://x\n"


@pytest.mark.parametrize(
    ("section", "line", "says"),
    [
        (CLIENT + "  requests_per_secnd: 5\n", 6, "did you mean `requests_per_second`?"),
        (
            CLIENT + "  paginator: {type: page_number, cursor_path: next}\n",
            6,
            "paginator type 'page_number' takes no `cursor_path`",
        ),
        (CLIENT + "  paginator: {type: cursor, concurrency: 4}\n", 6, "takes no `concurrency`"),
        (CLIENT + "  paginator:\n    type: offset\n    max_page: 9\n", 8, "`max_pages`?"),
        (CLIENT + "  auth: {type: hmac, access_key: k}\n", 6, "'hmac' needs `secret_key`"),
        (CLIENT + "  auth: {type: bearer, token: t, algorithm: sha256}\n", 6, "no `algorithm`"),
        (
            CLIENT + "resource_defaults:\n  endpoint:\n    incremental:\n      lookback: 2 hours\n",
            8,
            "'2 hours' is not a duration",
        ),
        (CLIENT + "resource_defaults:\n  endpont: {path: x}\n", 7, "did you mean `endpoint`?"),
    ],
)
def test_spec_mistakes_name_the_line_and_the_fix(
    tmp_path: Path, section: str, line: int, says: str
) -> None:
    path = tmp_path / "zoo.yaml"
    body = textwrap.indent(section + "resources: [items]\n", "  ")
    path.write_text(f"name: zoo\nkind: rest_api\nrest_api:\n{body}", encoding="utf-8")
    with pytest.raises(SpecErrors) as failure:
        load_spec(path)
    [error] = failure.value.errors
    assert error.line == line and says in str(error)


def test_dlt_keys_pass_through_and_lookback_becomes_lag(tmp_path: Path) -> None:
    spec = source_file(
        tmp_path,
        """
        client:
          base_url: http://x
          paginator: {type: page_number, total_path: null, maximum_page: 3}
        resources:
          - name: daily
            endpoint:
              incremental: {cursor_path: day, initial_value: "2024-01-01", lookback: 2d}
        """,
    )
    endpoint = spec.rest_api["resources"][0]["endpoint"]
    assert endpoint["incremental"].lag_value() == 2  # a date cursor lags in days
    assert spec.rest_api["client"]["paginator"]["maximum_page"] == 3  # dlt's own key, kept
