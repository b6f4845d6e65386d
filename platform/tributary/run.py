"""`tributary run [SOURCE…] [--only ingest|build|check|publish]`: one's own sources, loaded,
built, checked and published in this process, on the instance the UI shows.

It runs the jobs the UI and the schedules run (``<source>_refresh``, ``refresh_all``; see
``automation/jobs.py``), so a run from here, from the UI or from a schedule does the same
thing, and each appears in the same run history.
"""

import os
import sys
from collections.abc import Sequence
from datetime import datetime

import dagster as dg

from tributary.automation.jobs import (
    refresh_all,
    source_job_name,
    sources_selection,
    step_selection,
)
from tributary.contracts.source import SourceSpec, load_specs
from tributary.contracts.specfile import SpecErrors
from tributary.definitions import build_definitions
from tributary.settings import Settings
from tributary.summary import summarize
from tributary.warehouse import warehouse_lock

QUIET = {"loggers": {"console": {"config": {"log_level": "INFO"}}}}


def run_instance(settings: Settings) -> dg.DagsterInstance:
    """The instance at ``settings.dagster_home`` (``$DAGSTER_HOME``, else ``data/dagster``),
    where `dagster dev` and `make dev` keep their history; a home of Tributary's own gets the
    project's ``dagster.yaml`` linked in, as the Makefile does."""
    use_dagster_home(settings)
    return dg.DagsterInstance.get()


def use_dagster_home(settings: Settings) -> str:
    """Point ``$DAGSTER_HOME`` at ``settings.dagster_home`` (made if missing) and return it."""
    home = settings.dagster_home or settings.data_dir / "dagster"
    home.mkdir(parents=True, exist_ok=True)
    instance_file, link = settings.project_root / "dagster.yaml", home / "dagster.yaml"
    if home == settings.data_dir / "dagster" and not (link.exists() or link.is_symlink()):
        link.symlink_to(instance_file)
    os.environ["DAGSTER_HOME"] = str(home)
    return str(home)


def run_sources(settings: Settings, names: Sequence[str], only: str | None) -> int:
    """Run the named sources (all when none is named); print the summary; 0 on success."""
    try:
        specs = load_specs(settings.sources_dir)
    except SpecErrors as exc:
        print("\n".join(str(e) for e in exc.errors), file=sys.stderr)
        return 1
    known = {spec.name: spec for spec in specs}
    unknown = [name for name in names if name not in known]
    if unknown:
        print(
            f"tributary run: no source named {', '.join(unknown)} in {settings.sources_dir}; "
            f"the sources are: {', '.join(sorted(known)) or 'none'}",
            file=sys.stderr,
        )
        return 2
    chosen = [known[name] for name in dict.fromkeys(names)]
    defs = build_definitions(settings)
    job, selection, narrow = job_for(defs, chosen, every=not chosen or len(chosen) == len(specs))
    if only or narrow:
        graph = defs.resolve_asset_graph()
        part = step_selection(selection, only) if only else selection
        assets = set() if only == "check" else part.resolve(graph)
        job = job.get_subset(
            asset_selection=assets, asset_check_selection=part.resolve_checks(graph)
        )
    result = execute(job, settings, run_instance(settings), f"tributary run {' '.join(names)}")
    print(summarize(result, settings))
    return 0 if result.success else 1


def execute(
    job: dg.JobDefinition, settings: Settings, instance: dg.DagsterInstance, what: str
) -> dg.ExecuteInProcessResult:
    """Run ``job`` in this process, holding the warehouse lock from its first step to its
    publish: a run is one write-audit-publish, and another run's writes between its checks
    and its publish would rightly stop the publish. Its steps' own holds nest inside."""
    holder = f"pid {os.getpid()} ({what.strip()}, started {datetime.now():%H:%M:%S})"
    with warehouse_lock(settings.warehouse, settings.warehouse_lock_timeout_s, holder=holder):
        return job.execute_in_process(run_config=QUIET, instance=instance, raise_on_error=False)


def job_for(
    defs: dg.Definitions, chosen: list[SourceSpec], every: bool
) -> tuple[dg.JobDefinition, dg.AssetSelection, bool]:
    """The job the UI runs for this choice, what it selects, and whether it must be narrowed
    to that: one source's refresh, the refresh of everything, or (a few sources together)
    Dagster's own job of all assets, narrowed to theirs."""
    if len(chosen) == 1:
        return defs.resolve_job_def(source_job_name(chosen[0])), sources_selection(chosen), False
    if every:
        return defs.resolve_job_def(refresh_all.name), dg.AssetSelection.all(), False
    return defs.resolve_implicit_global_asset_job_def(), sources_selection(chosen), True
