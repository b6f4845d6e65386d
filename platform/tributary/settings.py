"""Every path and platform setting Tributary reads from the environment, in one place.

(A source's own ``${VARS}`` — addresses and secrets — are read when its load runs; see
``contracts/source.py``.)

Read when definitions, resources and commands are built (``Settings.from_env()``), never at
import time, so tests can point a whole build at a temporary folder.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

PROJECT_ROOT = Path(__file__).resolve().parents[2]
# How long a step waits for another process's hold on the warehouse before it fails.
LOCK_TIMEOUT_S = 3600.0


@dataclass(frozen=True)
class Settings:
    project_root: Path
    data_dir: Path
    warehouse: Path  # the working DuckDB file: dlt, dbt and Python assets write here
    snapshot: Path  # the published analyst snapshot: readers open only this
    dlt_pipelines_dir: Path
    sources_dir: Path
    dbt_project_dir: Path
    base_currency: str
    warehouse_lock_timeout_s: float = LOCK_TIMEOUT_S  # TRIBUTARY_WAREHOUSE_LOCK_TIMEOUT
    # The Dagster instance runs are recorded in: $DAGSTER_HOME, else data/dagster (as `make`).
    dagster_home: Path | None = None
    # The Data API (serve/): its signing keys (PEM private keys, ES256) from the environment
    # only, never shown; the previous key still verifies the tokens it signed until they expire.
    api_signing_key: str | None = field(default=None, repr=False)
    api_previous_key: str | None = field(default=None, repr=False)
    api_aksk_key: str | None = field(default=None, repr=False)  # derives AK/SK secrets
    api_issuer: str = "urn:tributary"
    api_audience: str = "urn:tributary:data-api"

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> Settings:
        env = os.environ if environ is None else environ
        root = PROJECT_ROOT
        data_dir = Path(env.get("TRIBUTARY_DATA_DIR", root / "data")).resolve()
        return cls(
            project_root=root,
            data_dir=data_dir,
            # dbt gets this path as --vars from the dbt asset; by hand, profiles.yml reads
            # TRIBUTARY_WAREHOUSE (default: this file, when TRIBUTARY_DATA_DIR is unset).
            warehouse=Path(env.get("TRIBUTARY_WAREHOUSE", data_dir / "warehouse.duckdb")).resolve(),
            snapshot=Path(env.get("TRIBUTARY_SNAPSHOT", data_dir / "analyst.duckdb")).resolve(),
            dlt_pipelines_dir=data_dir / "dlt",
            sources_dir=Path(env.get("TRIBUTARY_SOURCES_DIR", root / "sources")).resolve(),
            dbt_project_dir=Path(
                env.get("TRIBUTARY_DBT_PROJECT_DIR", root / "dbt_project")
            ).resolve(),
            base_currency=env.get("TRIBUTARY_BASE_CURRENCY", "USD"),
            dagster_home=Path(env.get("DAGSTER_HOME") or data_dir / "dagster").resolve(),
            warehouse_lock_timeout_s=float(
                env.get("TRIBUTARY_WAREHOUSE_LOCK_TIMEOUT", LOCK_TIMEOUT_S)
            ),
            api_signing_key=env.get("TRIBUTARY_API_SIGNING_KEY") or None,
            api_previous_key=env.get("TRIBUTARY_API_PREVIOUS_SIGNING_KEY") or None,
            api_aksk_key=env.get("TRIBUTARY_API_AKSK_KEY") or None,
            api_issuer=env.get("TRIBUTARY_API_ISSUER", "urn:tributary"),
            api_audience=env.get("TRIBUTARY_API_AUDIENCE", "urn:tributary:data-api"),
        )

    @property
    def api_dir(self) -> Path:
        """The Data API's app registry and audit log (never in the repo)."""
        return self.data_dir / "api"

    @property
    def demo_dir(self) -> Path:
        """Where the demo enterprise keeps its databases, exports and clock."""
        return self.data_dir / "demo"
