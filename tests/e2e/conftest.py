"""The end-to-end tests' project: a copy of the sources and dbt project to add systems to."""

import shutil
from pathlib import Path

import pytest

from tributary.settings import PROJECT_ROOT, Settings


@pytest.fixture
def project(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Settings:
    """A copy of the project's sources and dbt project, for this test to add a system to."""
    shutil.copytree(PROJECT_ROOT / "sources", tmp_path / "sources")
    shutil.copytree(
        PROJECT_ROOT / "dbt_project",
        tmp_path / "dbt_project",
        ignore=shutil.ignore_patterns("target", "logs"),
    )
    monkeypatch.setenv("TRIBUTARY_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.setenv("TRIBUTARY_SOURCES_DIR", str(tmp_path / "sources"))
    monkeypatch.setenv("TRIBUTARY_DBT_PROJECT_DIR", str(tmp_path / "dbt_project"))
    for key in ("TRIBUTARY_WAREHOUSE", "TRIBUTARY_SNAPSHOT"):
        monkeypatch.delenv(key, raising=False)
    return Settings.from_env()
