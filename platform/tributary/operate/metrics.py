"""``tributary metrics``: a Prometheus endpoint over Dagster's records of the platform.

Read on every scrape, from the Dagster instance only (never the working warehouse, which a
load may hold): rows, duration and bytes of each table's last load (what a raw load records),
seconds since each source's last successful load (its stalest table), the latest result of
every check by severity, and the rows held in each entity's quarantine (the count the
quarantine asset records when it rewrites its table).
"""

from __future__ import annotations

import time
from collections import Counter
from collections.abc import Callable, Iterable, Iterator
from wsgiref.simple_server import WSGIRequestHandler, WSGIServer, make_server

import dagster as dg
from prometheus_client import make_wsgi_app
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.registry import Collector, CollectorRegistry

QUARANTINE_PREFIX = "quarantine_"


def _latest(instance: dg.DagsterInstance, key: dg.AssetKey):
    event = instance.get_latest_materialization_event(key)
    return event, (event.asset_materialization if event else None)


def _value(materialization, *names: str) -> float | None:
    for name in names:
        entry = materialization.metadata.get(name) if materialization else None
        if entry is not None and isinstance(entry.value, int | float):
            return float(entry.value)
    return None


class TributaryCollector(Collector):
    """Gauges computed from the instance at scrape time (so never stale, never cached)."""

    def __init__(
        self,
        instance: dg.DagsterInstance,
        check_keys: Iterable[dg.AssetCheckKey] = (),
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.instance, self.check_keys, self.clock = instance, list(check_keys), clock

    def collect(self) -> Iterator[GaugeMetricFamily]:
        rows = GaugeMetricFamily(
            "tributary_rows_loaded",
            "Rows the last load of each raw table brought.",
            labels=["table"],
        )
        duration = GaugeMetricFamily(
            "tributary_load_duration_seconds",
            "How long the last load of each raw table's source took (dlt's trace).",
            labels=["table"],
        )
        size = GaugeMetricFamily(
            "tributary_load_bytes", "Bytes the last load of each raw table wrote.", labels=["table"]
        )
        age = GaugeMetricFamily(
            "tributary_seconds_since_last_load",
            "Seconds since the last successful load of a source's stalest table.",
            labels=["source"],
        )
        held = GaugeMetricFamily(
            "tributary_quarantine_rows", "Rows held in each entity's quarantine.", labels=["entity"]
        )
        oldest: dict[str, float] = {}
        for key in self.instance.get_asset_keys():
            event, materialization = _latest(self.instance, key)
            if event is None:
                continue
            first, name = key.path[0], key.path[-1]
            if first.startswith("raw_"):
                for family, name in (
                    (rows, "rows_loaded"),
                    (duration, "duration_s"),
                    (size, "bytes"),
                ):
                    value = _value(materialization, name)
                    if value is not None:
                        family.add_metric([key.to_user_string()], value)
                source = first.removeprefix("raw_")
                oldest[source] = min(oldest.get(source, event.timestamp), event.timestamp)
            elif first == "quality" and name.startswith(QUARANTINE_PREFIX):
                count = _value(materialization, "dagster/row_count", "quarantined")
                if count is not None:
                    held.add_metric([name.removeprefix(QUARANTINE_PREFIX)], count)
        now = self.clock()
        for source, loaded_at in sorted(oldest.items()):
            age.add_metric([source], max(now - loaded_at, 0.0))
        yield from (rows, duration, size, age, held, self._checks())

    def _checks(self) -> GaugeMetricFamily:
        checks = GaugeMetricFamily(
            "tributary_check_results",
            "Checks by their latest result (passed/failed) and severity (ERROR/WARN).",
            labels=["severity", "result"],
        )
        counts: Counter[tuple[str, str]] = Counter()
        for key in self.check_keys:
            record = self.instance.get_latest_asset_check_evaluation_record(key)
            evaluation = record.event.asset_check_evaluation if record and record.event else None
            if evaluation is not None:
                result = "passed" if evaluation.passed else "failed"
                counts[(evaluation.severity.value, result)] += 1
        for severity in ("ERROR", "WARN"):
            for result in ("passed", "failed"):
                checks.add_metric([severity, result], counts[(severity, result)])
        return checks


class _Quiet(WSGIRequestHandler):
    def log_message(self, *args) -> None:  # a scrape every 15 s is not news
        pass


def metrics_server(
    instance: dg.DagsterInstance,
    check_keys: Iterable[dg.AssetCheckKey],
    host: str = "127.0.0.1",
    port: int = 9464,
) -> WSGIServer:
    """A WSGI server answering every path with the metrics (call ``serve_forever``)."""
    registry = CollectorRegistry(auto_describe=True)
    registry.register(TributaryCollector(instance, check_keys))
    return make_server(host, port, make_wsgi_app(registry), handler_class=_Quiet)
