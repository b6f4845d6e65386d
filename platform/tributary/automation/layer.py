"""The automation layer: what runs when, selected by asset groups and keys alone."""

import dagster as dg

from tributary.automation.jobs import daily_refresh, refresh_all, replay_quarantine, source_job
from tributary.contracts.source import load_specs
from tributary.settings import Settings


def defs(settings: Settings) -> dg.Definitions:
    """The jobs (everything, each source, the replay) and the daily schedule; they name
    groups and key prefixes, never a layer's code."""
    sources = [source_job(spec) for spec in load_specs(settings.sources_dir)]
    return dg.Definitions(
        jobs=[refresh_all, replay_quarantine, *sources], schedules=[daily_refresh]
    )
