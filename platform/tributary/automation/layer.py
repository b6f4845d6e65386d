"""The automation layer: what runs when, selected by asset groups and keys alone."""

import dagster as dg

from tributary.automation.jobs import daily_refresh, refresh_all, replay_quarantine
from tributary.settings import Settings


def defs(settings: Settings) -> dg.Definitions:
    """The jobs and the daily schedule; they name groups and keys, never a layer's code."""
    return dg.Definitions(jobs=[refresh_all, replay_quarantine], schedules=[daily_refresh])
