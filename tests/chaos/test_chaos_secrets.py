"""No secret anywhere after a run with every REST auth kind and a PostgreSQL password in a URL.

Each secret (and its base64, and basic auth's ``user:secret`` in base64) is searched for in the
run's log output, every file under the run's folders (Dagster's event log and compute logs,
dlt's pipeline state and working folder, the warehouse, the snapshot), read as bytes, and in
every DuckDB file read through DuckDB.
"""

import base64
import logging
from pathlib import Path

import dagster as dg
import duckdb
from dagster_dlt import DagsterDltResource
from harness import source_file
from rest_zoo import ACCESS_KEY, CLIENT_ID, USERNAME, RestZoo

from tributary.ingest.assets import source_assets
from tributary.publish.analyst_snapshot import publish_analyst_snapshot

AUTHS = {
    "bearer": '{type: bearer, token: "${%s_SECRET}"}',
    "api_key_header": '{type: api_key, name: X-API-Key, api_key: "${%s_SECRET}", location: header}',
    "api_key_query": '{type: api_key, name: auth_code, api_key: "${%s_SECRET}", location: query}',
    "basic": f'{{type: http_basic, username: {USERNAME}, password: "${{%s_SECRET}}"}}',
    "oauth2": f'{{type: oauth2_client_credentials, access_token_url: "${{%s_URL}}/oauth/token", '
    f'client_id: {CLIENT_ID}, client_secret: "${{%s_SECRET}}"}}',
    "hmac": f'{{type: hmac, access_key: {ACCESS_KEY}, secret_key: "${{%s_SECRET}}"}}',
}
PG_PASSWORD = "Pg-pass-7f3e91c2d8"  # trust authentication: PostgreSQL takes any password


def rest_section(var: str, mode: str) -> str:
    auth = AUTHS[mode].replace("%s", var)
    return f"""
    client: {{base_url: "${{{var}_URL}}", auth: {auth},
      paginator: {{type: page_number, base_page: 1, total_path: meta.total_pages}}}}
    resources:
      - {{name: items, primary_key: id,
          endpoint: {{path: pages, data_selector: data, params: {{page_size: 5}}}}}}
    """


def forms(secret: str) -> set[str]:
    """A secret as it may appear: plain, base64, and basic auth's user:secret in base64."""
    found = {secret, base64.b64encode(secret.encode()).decode()}
    found.add(base64.b64encode(f"{USERNAME}:{secret}".encode()).decode())
    return found


def duckdb_text(path: Path) -> str:
    """Every value of every table of a DuckDB file, as text."""
    with duckdb.connect(str(path), read_only=True) as con:
        tables = con.execute(
            "select table_schema, table_name from information_schema.tables"
        ).fetchall()
        return "\n".join(
            str(con.execute(f'select * from "{s}"."{t}"').fetchall()) for s, t in tables
        )


def _around(text: str, secret: str) -> str:
    at = text.index(secret)
    return text[max(0, at - 80) : at].replace(secret, "<secret>") + "<secret>"


def leaks(folders: list[Path], logs: str, secrets: set[str]) -> list[str]:
    hits = [f"log output: …{_around(logs, s)}…" for s in secrets if s in logs]
    for folder in folders:
        for path in (p for p in folder.rglob("*") if p.is_file()):
            data = path.read_bytes()
            hits += [f"{path}: {s[:6]}…" for s in secrets if s.encode() in data]
            if data[8:12] == b"DUCK":
                text = duckdb_text(path)
                hits += [f"{path} (through DuckDB): {s[:6]}…" for s in secrets if s in text]
    return hits


def test_no_secret_in_logs_state_warehouse_or_snapshot(
    tmp_path, settings, pg_schema, monkeypatch, caplog, capfd, record_property
):
    url, schema, _ = pg_schema
    caplog.set_level(logging.DEBUG)
    zoos = {mode: RestZoo(12, auth=mode if mode != "hmac" else "hmac") for mode in AUTHS}
    specs, secrets = [], {PG_PASSWORD}
    for mode, zoo in zoos.items():
        var = f"ZOO_{mode.upper()}"
        zoo.__enter__()
        monkeypatch.setenv(f"{var}_URL", zoo.url)
        monkeypatch.setenv(f"{var}_SECRET", zoo.secret)
        secrets |= forms(zoo.secret)
        specs.append(source_file(tmp_path, f"zoo_{mode}", "rest_api", rest_section(var, mode)).spec)
    # The password sits in a URL under a name that does not look secret.
    password_url = url.replace("postgres@", f"postgres:{PG_PASSWORD}@")
    monkeypatch.setenv("LEDGER_URL", password_url)
    specs.append(
        source_file(
            tmp_path,
            "ledger",
            "sql_database",
            f"credentials: ${{LEDGER_URL}}\nschema: {schema}\n"
            "tables: [{name: accounts, primary_key: id}]",
        ).spec
    )
    home = tmp_path / "dagster_home"
    home.mkdir()
    try:
        with dg.instance_for_test(temp_dir=str(home)) as instance:
            result = dg.materialize(
                [source_assets(spec, settings) for spec in specs],
                resources={"dlt": DagsterDltResource()},
                instance=instance,
            )
            assert result.success
    finally:
        for zoo in zoos.values():
            zoo.__exit__(None, None, None)
    with duckdb.connect(str(settings.warehouse)) as con:  # a mart for the snapshot
        con.execute("create schema marts")
        con.execute("create table marts.accounts as from raw_ledger.accounts")
    publish_analyst_snapshot(settings.warehouse, settings.snapshot)
    out, err = capfd.readouterr()
    logs = "\n".join([out, err, caplog.text])
    assert "raw_ledger" in logs or result.success  # the run did log
    # What is searched exists: Dagster's event log, dlt's state, the warehouse, the snapshot.
    assert list(home.rglob("*.db")) and list(settings.dlt_pipelines_dir.rglob("state.json"))
    assert settings.warehouse.exists() and settings.snapshot.exists()
    hits = leaks([settings.data_dir, home], logs, secrets)
    record_property("leaked", len(hits))
    assert hits == []
