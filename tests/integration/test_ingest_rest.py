"""HR and CRM through Tributary's REST ingestion, against the demo servers on loopback."""

import copy

import duckdb
import pytest

from demo_enterprise import DemoEnterprise
from tributary.contracts.source import load_spec
from tributary.ingest.pipeline import pipeline_for
from tributary.ingest.sources import build_source
from tributary.settings import PROJECT_ROOT


def spec_with_page_size(name: str, param: str, size: int):
    """The demo source file with small pages, so a tiny demo still spans many pages."""
    spec = load_spec(PROJECT_ROOT / "sources" / f"{name}.yaml")
    config = copy.deepcopy(spec.rest_api)
    config["resource_defaults"]["endpoint"]["params"][param] = size
    return spec.model_copy(update={"rest_api": config})


def error_chain(error: BaseException | None) -> str:
    """Every message of an exception and its causes: what a person reading the failure sees."""
    messages = []
    while error is not None:
        messages.append(str(error))
        error = error.__cause__ or error.__context__
    return "\n".join(messages)


def run(spec, settings, env):
    pipeline = pipeline_for(spec, settings)
    pipeline.run(build_source(spec, environ=env)).raise_on_failed_jobs()
    return pipeline.last_trace.last_normalize_info.row_counts


def count(settings, sql: str):
    with duckdb.connect(str(settings.warehouse), read_only=True) as con:
        return con.execute(sql).fetchone()


def test_hr_oauth_pages_with_duplicates_load_each_employee_once(settings):
    enterprise = DemoEnterprise(settings.demo_dir, seed=3, scale=0.1)
    spec = spec_with_page_size("hr", "page_size", 4)
    truth = enterprise.truth().employees
    with enterprise.serve() as env:
        loaded = run(spec, settings, env)
        # The API repeats a record across page boundaries: more rows arrive than exist...
        assert loaded["employees"] > len(truth)
        # ...and merging on staffID (normalized to staff_id) keeps one each.
        assert count(
            settings, "select count(*), count(distinct staff_id) from raw_hr.employees"
        ) == (len(truth), len(truth))
        # Nothing changed: the incremental cursor (updated_since) asks only for newer records.
        again = run(spec, settings, env)
        assert again.get("employees", 0) <= 1  # only the record at the cursor boundary
    enterprise.advance(1)
    with enterprise.serve() as env:
        changed = run(spec, settings, env)
    new_truth = enterprise.truth().employees
    assert 0 < changed["employees"] < len(new_truth) / 2
    assert count(settings, "select count(*) from raw_hr.employees") == (len(new_truth),)


def test_crm_cursor_pages_survive_rate_limiting(settings):
    enterprise = DemoEnterprise(settings.demo_dir, seed=3, scale=0.1)
    spec = spec_with_page_size("crm", "limit", 10)
    customers = enterprise.truth().customers
    # 5 requests a second: the walk over ~15 pages is answered with 429 + Retry-After on the
    # way, which dlt's client honours; every customer still arrives exactly once.
    with enterprise.serve(rate_limit=5) as env:
        run(spec, settings, env)
    assert count(settings, "select count(*), count(distinct id) from raw_crm.customers") == (
        len(customers),
        len(customers),
    )


def test_wrong_secret_fails_without_revealing_it(settings):
    enterprise = DemoEnterprise(settings.demo_dir, seed=3, scale=0.1)
    spec = load_spec(PROJECT_ROOT / "sources" / "hr.yaml")
    with enterprise.serve() as env:
        wrong = {**env, "HR_CLIENT_SECRET": "not-the-secret-" + env["HR_CLIENT_SECRET"][:6]}
        with pytest.raises(Exception) as exc:
            run(spec, settings, wrong)
    text = error_chain(exc.value)
    assert "401" in text
    assert wrong["HR_CLIENT_SECRET"] not in text and env["HR_CLIENT_SECRET"] not in text


def test_secret_in_query_params_is_redacted_from_errors(tmp_path, settings):
    """A key passed as a plain query parameter (not through `auth`) stays out of errors too."""
    import http.server
    import threading

    class NotFound(http.server.BaseHTTPRequestHandler):
        def do_GET(self):  # noqa: N802 - the stdlib's name
            self.send_response(404)
            self.end_headers()

        def log_message(self, *args):
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), NotFound)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    (tmp_path / "legacy.yaml").write_text(
        "name: legacy\nkind: rest_api\nrest_api:\n  client:\n    base_url: ${LEGACY_URL}\n"
        "    retries: 0\n  resources:\n    - name: things\n      endpoint:\n"
        "        path: things\n        params:\n          x_code: ${LEGACY_API_TOKEN}\n"
    )
    spec = load_spec(tmp_path / "legacy.yaml")
    env = {"LEGACY_URL": f"http://127.0.0.1:{server.server_port}", "LEGACY_API_TOKEN": "tok-98765"}
    try:
        with pytest.raises(Exception) as exc:
            run(spec, settings, env)
    finally:
        server.shutdown()
    text = error_chain(exc.value)
    assert "404" in text and "tok-98765" not in text
