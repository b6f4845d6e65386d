"""`tributary demo run` (`make demo`): the demo enterprise on loopback, every asset and check
run in process, the analyst snapshot, and a summary of what happened."""

import os
from collections.abc import Iterator
from contextlib import contextmanager

import dagster as dg

from tributary.definitions import build_definitions
from tributary.run import execute, run_instance
from tributary.settings import Settings
from tributary.summary import summarize


@contextmanager
def environment(values: dict[str, str]) -> Iterator[None]:
    """Expose the demo systems' addresses and credentials to the load, then take them back."""
    saved = {k: os.environ.get(k) for k in values}
    os.environ.update(values)
    try:
        yield
    finally:
        for key, value in saved.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value


def materialize_all(settings: Settings, instance: dg.DagsterInstance) -> dg.ExecuteInProcessResult:
    """Every asset with all its checks, in process, in dependency order."""
    defs = build_definitions(settings)
    job = defs.resolve_implicit_global_asset_job_def()
    return execute(job, settings, instance, "tributary demo run")


def run_demo(settings: Settings, seed: int = 7, scale: float = 1.0) -> int:
    """Serve the demo systems, build everything once, print the summary; 0 on success.

    A second run on the same data folder first moves the demo clock one day on.
    """
    from demo_enterprise import DemoEnterprise

    # Run history where `make dev` shows it (DAGSTER_HOME, else under the data folder).
    instance = run_instance(settings)
    enterprise = DemoEnterprise(settings.demo_dir, seed=seed, scale=scale)
    if settings.warehouse.exists():
        enterprise.advance(1)  # a second run has something new to load, incrementally
    with enterprise.serve() as env, environment(env):
        result = materialize_all(settings, instance)
    print(f"demo enterprise at day {enterprise.day}")
    print(summarize(result, settings))
    return 0 if result.success else 1
