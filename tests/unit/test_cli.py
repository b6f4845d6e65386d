"""`tributary validate`: one clear line per mistake, no traceback; and the finance sensor."""

import json
import os
import subprocess
import sys
from pathlib import Path

import dagster as dg

from tributary.contracts.source import load_specs
from tributary.ingest.assets import source_sensors
from tributary.settings import PROJECT_ROOT


def validate(sources_dir: Path) -> subprocess.CompletedProcess:
    tributary = Path(sys.executable).with_name("tributary")
    return subprocess.run(
        [str(tributary), "validate"],
        env={"TRIBUTARY_SOURCES_DIR": str(sources_dir), "PATH": ""},
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_validate_accepts_the_demo_sources():
    result = validate(PROJECT_ROOT / "sources")
    assert result.returncode == 0, result.stderr
    assert (
        "4 source(s), their mappings and the dictionary valid: crm, erp, finance, hr"
        in result.stdout
    )


def test_validate_reports_each_broken_file_without_traceback(tmp_path):
    (tmp_path / "hr.yaml").write_text("name: hr\nkind: rest_api\nrest_apii: {}\n")
    (tmp_path / "erp.yaml").write_text(
        "name: erp\nkind: sql_database\nsql_database:\n  tables: []\n"
    )
    (tmp_path / "files.yaml").write_text("name: files\nkind: filesystem\n  bad: [indent\n")
    result = validate(tmp_path)
    assert result.returncode == 1
    assert "Traceback" not in result.stderr
    lines = result.stderr.strip().splitlines()
    assert any(
        line.startswith(f"{tmp_path / 'hr.yaml'}:3:") and "did you mean `rest_api`" in line
        for line in lines
    ), lines
    assert any(f"{tmp_path / 'erp.yaml'}:3:" in line and "credentials" in line for line in lines)
    assert any(f"{tmp_path / 'files.yaml'}:" in line and "not valid YAML" in line for line in lines)


def test_export_sensor_runs_once_per_new_or_redelivered_file(tmp_path, monkeypatch):
    monkeypatch.setenv("FINANCE_EXPORT_DIR", str(tmp_path))
    sensor = source_sensors(load_specs(PROJECT_ROOT / "sources"))[0]
    assert sensor.name == "finance_export_sensor"
    invoices = tmp_path / "invoices_20251231.csv"
    invoices.write_text("x")
    (tmp_path / ".invoices_20260101.csv.tmp").write_text("half written")  # ignored
    (tmp_path / "notes.txt").write_text("not an export")  # matches no glob
    first = sensor(dg.build_sensor_context())
    assert len(first.run_requests) == 1
    assert list(json.loads(first.cursor)) == ["invoices_20251231.csv"]
    assert not sensor(dg.build_sensor_context(cursor=first.cursor)).run_requests
    # The same file delivered again with new content runs again.
    os.utime(invoices, (invoices.stat().st_atime, invoices.stat().st_mtime + 60))
    again = sensor(dg.build_sensor_context(cursor=first.cursor))
    assert len(again.run_requests) == 1
    assert again.run_requests[0].run_key != first.run_requests[0].run_key


def test_committed_json_schemas_are_current():
    """Editors complete keys from sources/schemas/*.json: they must match the models."""
    tributary = Path(sys.executable).with_name("tributary")
    result = subprocess.run(
        [str(tributary), "schema", "--check"], capture_output=True, text=True, timeout=120
    )
    assert result.returncode == 0, result.stderr
    schema = json.loads((PROJECT_ROOT / "sources" / "schemas" / "source.schema.json").read_text())
    assert set(schema["properties"]) >= {"name", "kind", "rest_api", "sql_database", "filesystem"}
    assert schema["additionalProperties"] is False
