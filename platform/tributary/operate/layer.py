"""The operate layer: the alerts sensor over everything upstream of it."""

import dagster as dg

from tributary.contracts.alerts import load_alerts
from tributary.contracts.source import load_specs
from tributary.operate.sensor import Watched, build_alerts_sensor
from tributary.settings import Settings


def watched(upstream: dg.Definitions, specs) -> Watched:
    """Every check, and each asset's group, of the definitions upstream."""
    checks = [k for c in upstream.asset_checks or [] for k in c.check_keys]
    checks += [k for a in upstream.assets or [] for k in getattr(a, "check_keys", ())]
    groups = {
        key: group
        for a in upstream.assets or []
        for key, group in getattr(a, "group_names_by_key", {}).items()
    }
    return Watched(check_keys=sorted(set(checks), key=str), groups=groups, specs=specs)


def defs(settings: Settings, upstream: dg.Definitions) -> dg.Definitions:
    """No alerts file, or no channel in it: no sensor."""
    specs = load_specs(settings.sources_dir)
    alerts = load_alerts(settings.sources_dir, [s.name for s in specs])
    if not alerts.channels:
        return dg.Definitions()
    return dg.Definitions(sensors=[build_alerts_sensor(settings, alerts, watched(upstream, specs))])
