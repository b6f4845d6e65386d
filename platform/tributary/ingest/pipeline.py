"""A source system's dlt pipeline, and what its last run loaded.

Kind-independent: every kind loads through the same pipeline into the DuckDB warehouse. A kind
that writes rows past dlt's load files (the SQL kind's streamed first loads) records them in the
load package's state under ``STREAMED``; ``loaded_rows`` and ``streamed`` add them back.
"""

import fcntl
import os
from collections.abc import Iterator
from contextlib import contextmanager

import dlt
from dlt.destinations.impl.duckdb.configuration import DuckDbCredentials

from tributary.contracts.source import SourceSpec
from tributary.ingest.once import duckdb_once
from tributary.settings import Settings

LOAD_MEMORY_LIMIT = "256MB"  # DuckDB's buffers in an ingest run (see pipeline_for)
STREAMED = "tributary_streamed"  # load package state: {table: {rows, bytes}} streamed past dlt


def pipeline_name(spec: SourceSpec) -> str:
    return f"tributary_{spec.name}"


def pipeline_for(spec: SourceSpec, settings: Settings) -> dlt.Pipeline:
    """A dlt pipeline per source system, its state kept beside the warehouse."""
    # Arrow loads (SQL sources) get no _dlt_load_id by default: every raw row should say
    # which load brought it (the schema drift check reads it).
    dlt.config["normalize.parquet_normalizer.add_dlt_load_id"] = True
    return dlt.pipeline(
        pipeline_name=pipeline_name(spec),
        # dlt opens the warehouse itself, so its destination takes the path from the settings
        # when the definitions are built, not from the `warehouse` resource.
        destination=duckdb_once(
            DuckDbCredentials(
                str(settings.warehouse),
                # Measured in the ingest benchmark (docs/benchmarks.md): keeping the insertion
                # order of raw rows, which means nothing, cost a third of peak memory; without a
                # limit DuckDB kept a 6M-row load's written blocks in memory (peak 1,166 MiB,
                # 897 MiB with 256 MB, as fast). Loads and merges past the limit spill to disk.
                local_config={"preserve_insertion_order": False},
                global_config={"memory_limit": LOAD_MEMORY_LIMIT},
            )
        ),
        dataset_name=spec.dataset,
        pipelines_dir=str(settings.dlt_pipelines_dir),
    )


class SourceBusy(RuntimeError):
    """Another run is loading the same source."""


@contextmanager
def one_run_at_a_time(pipeline: dlt.Pipeline) -> Iterator[None]:
    """Hold the source's lock for a run; a second run at once fails at once, saying why.

    Two runs of one source share dlt's working folder: found by the fault matrix
    (``tests/chaos``), the second deleted the first's files mid-normalize ("No such file or
    directory"). The lock is the kernel's (``flock``): a killed run releases it.
    """
    folder = pipeline.working_dir
    os.makedirs(folder, exist_ok=True)
    with open(os.path.join(folder, "run.lock"), "a+") as lock:
        try:
            fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            lock.seek(0)
            raise SourceBusy(
                f"{pipeline.pipeline_name}: another run is loading this source (process "
                f"{lock.read().strip() or '?'}, lock {lock.name}); nothing was loaded by this "
                "one: run it again when that run has finished"
            ) from None
        lock.truncate(0)
        lock.write(str(os.getpid()))
        lock.flush()
        yield


def streamed(pipeline: dlt.Pipeline) -> dict[str, dict[str, int]]:
    """Rows and Arrow bytes per table that the pipeline's last run streamed past dlt's files."""
    trace = pipeline.last_trace
    normalized = trace.last_normalize_info if trace is not None else None
    found: dict[str, dict[str, int]] = {}
    for load_id in normalized.loads_ids if normalized is not None else []:
        try:
            state = pipeline.get_load_package_state(load_id)
        except Exception:  # the package is gone (deleted after loading): nothing recorded
            continue
        for table, counts in state.get(STREAMED, {}).items():
            mine = found.setdefault(table, {"rows": 0, "bytes": 0})
            mine["rows"] += counts["rows"]
            mine["bytes"] += counts["bytes"]
    return found


def loaded_rows(pipeline: dlt.Pipeline) -> dict[str, int]:
    """Rows per table of the pipeline's last run: dlt's own counts plus the streamed rows."""
    trace = pipeline.last_trace
    normalized = trace.last_normalize_info if trace is not None else None
    counts = dict(normalized.row_counts) if normalized is not None else {}
    for table, done in streamed(pipeline).items():
        counts[table] = counts.get(table, 0) + done["rows"]
    return counts
