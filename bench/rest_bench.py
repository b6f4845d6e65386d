"""REST benchmark: Tributary's REST source (concurrent pages) beside plain dlt ``rest_api``.

    .venv/bin/python bench/rest_bench.py      # never part of `make test`

One API on loopback (tests/integration/rest_zoo.py, in a process of its own as a real API
would be) serves ``records`` records in pages of ``page_size``, each page answered after
``latency_s``, the first response telling the total number of pages. Two contenders read it,
side by side in the same run, each into its own temporary DuckDB:

- Tributary: a source file (YAML) with ``concurrency: 8`` on its page-number paginator;
- dlt: the same endpoint through ``rest_api_source``, pages one after the other.

What is timed is the fetch: iterating the source, which requests every page and passes its
records through dlt's pipe (selection, incremental, transforms), as a pipeline's extract step
does before it writes them to files. The records each contender fetched are then loaded into
its own DuckDB, untimed: normalizing and loading are the same code whichever source fetched
the records, and take about as long as the sequential fetch here, so timing them would only
measure dlt twice. Each warehouse must hold exactly ``records`` distinct rows, or the run
fails. A short warm-up keeps one-off imports and first connections out of the timings.
"""

import json
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import dlt
import duckdb
from dlt.extract.source import DltSource
from dlt.sources.rest_api import rest_api_source

from tributary.contracts.source import load_spec
from tributary.ingest.sources import build_source

ZOO = Path(__file__).resolve().parents[1] / "tests" / "integration" / "rest_zoo.py"
CONCURRENCY = 8
SOURCE_FILE = """\
name: bench
kind: rest_api
rest_api:
  client:
    base_url: ${{BENCH_URL}}
    paginator:
      type: page_number
      base_page: 1
      total_path: meta.total_pages
      concurrency: {concurrency}
  resources:
    - name: items
      endpoint:
        path: pages
        data_selector: data
        params: {{page_size: {page_size}}}
"""


@contextmanager
def api(records: int, latency_s: float) -> Iterator[str]:
    """The API in a process of its own: its JSON encoding does not share our interpreter."""
    args = [sys.executable, str(ZOO), "--records", str(records), "--latency-s", str(latency_s)]
    server = subprocess.Popen(args, stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
    try:
        yield server.stdout.readline().strip()
    finally:
        server.stdin.close()
        server.wait(timeout=30)


def tributary_source(url: str, page_size: int, workdir: Path) -> DltSource:
    """What a data engineer writes: a source file, read and built as Tributary does."""
    path = workdir / "bench.yaml"
    path.write_text(SOURCE_FILE.format(concurrency=CONCURRENCY, page_size=page_size))
    return build_source(load_spec(path), environ={"BENCH_URL": url})


def dlt_source(url: str, page_size: int) -> DltSource:
    """The same endpoint through dlt's own rest_api source."""
    return rest_api_source(
        {
            "client": {
                "base_url": url,
                "paginator": {
                    "type": "page_number",
                    "base_page": 1,
                    "total_path": "meta.total_pages",
                },
            },
            "resources": [
                {
                    "name": "items",
                    "endpoint": {
                        "path": "pages",
                        "data_selector": "data",
                        "params": {"page_size": page_size},
                    },
                }
            ],
        }
    )


def fetch(source: DltSource) -> tuple[float, list[dict[str, Any]]]:
    """Seconds to fetch every record: every page requested, its records through dlt's pipe."""
    started = time.perf_counter()
    rows = list(source.resources["items"])
    return time.perf_counter() - started, rows


def load(name: str, rows: list[dict[str, Any]], workdir: Path) -> int:
    """Load fetched records into a DuckDB of their own; the distinct ids it then holds."""
    warehouse = workdir / f"{name}.duckdb"
    pipeline = dlt.pipeline(
        pipeline_name=f"rest_bench_{name}",
        destination=dlt.destinations.duckdb(str(warehouse)),
        dataset_name="raw",
        pipelines_dir=str(workdir / "pipelines"),
    )
    pipeline.run(rows, table_name="items", loader_file_format="parquet").raise_on_failed_jobs()
    with duckdb.connect(str(warehouse), read_only=True) as con:
        rows_, distinct = con.execute(
            "select count(*), count(distinct id) from raw.items"
        ).fetchone()
    return distinct if rows_ == distinct else -1


def measure(records: int = 100_000, latency_s: float = 0.05, page_size: int = 1000) -> dict:
    """Fetch times of both contenders, their ratio, and the records each loaded (checked)."""
    with api(records, latency_s) as url, tempfile.TemporaryDirectory() as tmp:
        workdir = Path(tmp)
        for warm_up in (tributary_source(url, page_size, workdir), dlt_source(url, page_size)):
            fetch(warm_up.add_limit(2))  # imports and first connections, outside the timing
        tributary_s, tributary_rows = fetch(tributary_source(url, page_size, workdir))
        dlt_s, dlt_rows = fetch(dlt_source(url, page_size))
        loaded = {
            "tributary": load("tributary", tributary_rows, workdir),
            "dlt": load("dlt", dlt_rows, workdir),
        }
    for name, count in loaded.items():
        if count != records:
            raise AssertionError(f"{name} loaded {count} distinct records, not {records}")
    return {
        "tributary_s": round(tributary_s, 3),
        "dlt_s": round(dlt_s, 3),
        "speedup": round(dlt_s / tributary_s, 2),
        "records": records,
    }


if __name__ == "__main__":
    result: dict[str, Any] = measure()
    print(json.dumps(result))
