"""Faults other than a kill: a flaky API, a token revoked mid-run, a PostgreSQL backend
terminated mid-read, a full disk, two runs at once. Each ends with the count after a re-run."""

import sqlalchemy as sa
from faultproxy import FaultProxy
from harness import SQL_ROWS, Loader, count, readable, rerun, source_file, total
from rest_zoo import CLIENT_ID, RestZoo
from test_chaos_kills import FILES, REST, export, sql_source

RECORDS = 60


def rest_source(tmp_path, client: str = "retries: 0"):
    section = REST.replace("  retries: 0\n", "".join(f"  {c}\n" for c in client.split(";")))
    return source_file(tmp_path, "zoo", "rest_api", section)


def rest_counts(settings) -> list:
    expected = set(range(1, RECORDS + 1))
    return [count(settings.warehouse, f"raw_zoo.{t}", expected) for t in ("items", "events")]


def test_rest_behind_a_proxy_breaking_a_quarter_of_requests(tmp_path, settings, survived):
    source = rest_source(tmp_path, "retries: 12;backoff: 0.05;timeout: 0.5")
    with RestZoo(RECORDS) as zoo, FaultProxy(zoo.url) as proxy:
        env = {"ZOO_URL": proxy.url}
        rerun(source, settings, env)
        rerun(source, settings, env)
    assert all(proxy.injected[f] for f in ("503", "429", "reset", "stall")), proxy.injected
    readable(settings.warehouse)
    survived(
        "REST: 10% 503, 5% 429 Retry-After, 5% resets, 5% timeouts", total(rest_counts(settings))
    )


def test_oauth2_token_revoked_and_expiring_mid_run(tmp_path, settings, survived):
    auth = (
        'auth: {type: oauth2_client_credentials, access_token_url: "${ZOO_URL}/oauth/token", '
        f'client_id: {CLIENT_ID}, client_secret: "${{ZOO_SECRET}}"}}'
    )
    source = rest_source(tmp_path, f"retries: 0;{auth}")
    # Every token expires after 1 s, or is refused earlier: after every third request the
    # server revokes every token it issued.
    with RestZoo(RECORDS, auth="oauth2", token_ttl_s=1.0, revoke_every=3, latency_s=0.05) as zoo:
        rerun(source, settings, zoo.env)
        assert zoo.tokens_issued >= 5 and zoo.statuses[401] >= 3, (zoo.tokens_issued, zoo.statuses)
    survived("REST: OAuth2 token expires and is revoked mid-run", total(rest_counts(settings)))


def test_postgres_backend_terminated_mid_read(tmp_path, settings, pg_schema, survived):
    url, schema, engine = pg_schema
    source = sql_source(tmp_path, schema)
    env = {"LEDGER_URL": f"{url}?application_name={schema}"}
    loader = Loader(source, settings, env, "--pause-at", "extract", "--after", "2")
    assert loader.wait_paused() == "extract"
    with engine.begin() as con:  # the loader's connections only, by their application_name
        killed = con.execute(
            sa.text(
                "select pg_terminate_backend(pid) from pg_stat_activity "
                "where application_name = :name"
            ),
            {"name": schema},
        ).fetchall()
    assert killed and all(ok for (ok,) in killed)
    assert loader.resume() == 1
    assert "server closed the connection unexpectedly" in loader.err, loader.err[-3000:]
    rerun(source, settings, env)
    expected = set(range(1, SQL_ROWS + 1))
    counts = [
        count(settings.warehouse, f"raw_ledger.{t}", expected) for t in ("accounts", "entries")
    ]
    readable(settings.warehouse)
    survived("PostgreSQL: the reader's backend terminated mid-read", total(counts))


def test_disk_full_during_the_load(tmp_path, settings, survived):
    folder, rows = tmp_path / "exports", 20_000
    for n in range(4):  # 600 kB of CSV
        export(folder, f"accounts_{n}.csv", range(n * rows // 4 + 1, (n + 1) * rows // 4 + 1))
        export(folder, f"lines_{n}.csv", range(n * rows // 4 + 1, (n + 1) * rows // 4 + 1))
    source = source_file(tmp_path, "exports", "filesystem", FILES)
    env = {"EXPORTS": str(folder)}
    loader = Loader(source, settings, env, "--fsize", str(256_000))
    assert loader.finish() == 1
    assert "File too large" in loader.err, loader.err[-3000:]
    rerun(source, settings, env)
    rerun(source, settings, env)
    readable(settings.warehouse)
    expected = set(range(1, rows + 1))
    counts = [
        count(settings.warehouse, f"raw_exports.{t}", expected) for t in ("accounts", "lines")
    ]
    survived("disk full (RLIMIT_FSIZE 256 kB) during the load", total(counts))


def test_two_runs_of_one_source_at_once(tmp_path, settings, survived):
    source = rest_source(tmp_path)
    with RestZoo(RECORDS, latency_s=0.05) as zoo:
        runs = [Loader(source, settings, zoo.env) for _ in range(2)]
        codes = [run.finish() for run in runs]
        errors = [run.err for run, code in zip(runs, codes, strict=True) if code]
        assert sorted(codes) == [0, 1], codes  # one loads, the other is refused at once
        for err in errors:  # a loser says why
            assert "another run is loading this source" in err, err[-3000:]
        rerun(source, settings, zoo.env)
    readable(settings.warehouse)
    survived("two runs of one source at once", total(rest_counts(settings)))
