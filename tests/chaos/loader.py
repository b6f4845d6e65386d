"""The load process the fault matrix kills: one source's dlt run, as the ingest asset runs it.

Run as ``python loader.py SPEC DATA_DIR [--pause-at STAGE] [--after N] [--fsize BYTES]``, with
the source's ``${VARS}`` in the environment. ``--pause-at`` stops the run inside a stage, prints
``PAUSED <stage>`` and waits for a line on stdin: the test then kills it (``kill -9``), or
breaks something (a PostgreSQL backend) and lets it go on. The stages, each paused mid-way:

- ``extract``: after the ``N``-th batch of rows a resource yields (pages, Arrow batches);
- ``normalize``: every file normalized, the package not yet committed to the load folder;
- ``load``: ``N`` load jobs' rows committed in DuckDB, none marked done by dlt yet;
- ``complete``: every job loaded, the load not yet recorded (``_dlt_loads``, the state);
- ``publish``: the new snapshot file built, not yet renamed into place.

The pauses patch dlt in this process only; production code has no hook for them.
``--fsize`` caps the size of any file this process writes (``RLIMIT_FSIZE``): a write past it
fails with EFBIG, as on a full disk, instead of the default SIGXFSZ kill.
"""

import argparse
import os
import resource
import signal
import sys
from pathlib import Path
from typing import Any


def pause(stage: str) -> None:
    print(f"PAUSED {stage}", flush=True)
    sys.stdin.readline()


def pause_on_call(owner: Any, name: str, stage: str, nth: int = 1) -> None:
    """Pause just before the ``nth`` call of ``owner.name``."""
    original = getattr(owner, name)
    calls = {"n": 0}

    def patched(*args: Any, **kwargs: Any) -> Any:
        calls["n"] += 1
        if calls["n"] == nth:
            pause(stage)
        return original(*args, **kwargs)

    setattr(owner, name, patched)


def pause_when_committed(nth: int) -> None:
    """Hold every load job whose rows DuckDB has committed, before dlt hears it is done; pause
    when the ``nth`` is held."""
    import threading

    from dlt.common.destination.client import RunnableLoadJob

    original = RunnableLoadJob._release
    held = {"n": 0}

    def patched(self: Any, next_state: str) -> None:
        if next_state == "completed" and not self.job_file_info().table_name.startswith("_"):
            held["n"] += 1
            if held["n"] == nth:
                pause("load")
            threading.Event().wait()  # held until the kill
        original(self, next_state)

    RunnableLoadJob._release = patched


def pause_in_extract(source: Any, nth: int) -> None:
    seen = {"n": 0}

    def count(item: Any) -> Any:
        if len(item) if hasattr(item, "__len__") else True:
            seen["n"] += 1
            if seen["n"] == nth:
                pause("extract")
        return item

    for res in source.resources.values():
        res.add_map(count)


def arm(stage: str | None, nth: int) -> None:
    from dlt.common.storages.load_storage import LoadStorage
    from dlt.load.load import Load

    if stage == "normalize":
        pause_on_call(LoadStorage, "commit_new_load_package", stage)
    elif stage == "load":
        pause_when_committed(nth)
    elif stage == "complete":
        pause_on_call(Load, "complete_package", stage)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("spec", type=Path)
    parser.add_argument("data_dir", type=Path)
    parser.add_argument("--pause-at")
    parser.add_argument("--after", type=int, default=1)
    parser.add_argument("--fsize", type=int)
    parser.add_argument("--publish", action="store_true", help="publish the snapshot instead")
    args = parser.parse_args()
    os.environ["TRIBUTARY_DATA_DIR"] = str(args.data_dir)
    from tributary.settings import Settings

    settings = Settings.from_env()
    if args.fsize:
        signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
        resource.setrlimit(resource.RLIMIT_FSIZE, (args.fsize, args.fsize))
    if args.publish:
        publish(settings, args.pause_at)
        return
    from tributary.contracts.source import load_spec
    from tributary.ingest.pipeline import one_run_at_a_time, pipeline_for
    from tributary.ingest.sources import build_source

    spec = load_spec(args.spec)
    source = build_source(spec, environ=os.environ)
    if args.pause_at == "extract":
        pause_in_extract(source, args.after)
    arm(args.pause_at, args.after)
    pipeline = pipeline_for(spec, settings)
    with one_run_at_a_time(pipeline):  # as the ingest asset runs it
        pipeline.run(source, loader_file_format="parquet").raise_on_failed_jobs()
    print("DONE", flush=True)


def publish(settings: Any, stage: str | None) -> None:
    from tributary.publish import analyst_snapshot

    if stage == "publish":
        pause_on_call(analyst_snapshot.os, "replace", stage, nth=2)  # 1: the .previous link
    counts = analyst_snapshot.publish_analyst_snapshot(settings.warehouse, settings.snapshot)
    print("DONE", sum(counts.values()), flush=True)


if __name__ == "__main__":
    main()
