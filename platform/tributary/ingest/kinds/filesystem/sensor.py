"""A sensor on a file source's folder: a new or re-delivered file starts a load."""

import hashlib
import json
from pathlib import Path

import dagster as dg

from tributary.contracts.source import SourceSpec, resolve_env


def matching_files(folder: Path, globs: list[str]) -> dict[str, float]:
    """Files a source would load, by path under the folder, with their modification times.

    Hidden files are left out: exporters write ``.name.tmp`` and rename when done.
    """
    if not folder.is_dir():
        return {}
    return {
        str(path.relative_to(folder)): path.stat().st_mtime
        for glob in globs
        for path in folder.glob(glob)
        if path.is_file() and not path.name.startswith(".")
    }


def changed_files(current: dict[str, float], seen: dict[str, float]) -> list[str]:
    """New files, and files delivered again (same name, newer time)."""
    return sorted(name for name, mtime in current.items() if seen.get(name) != mtime)


def export_sensor(spec: SourceSpec) -> dg.SensorDefinition:
    """Runs the source's refresh job (its tables and everything downstream, defined by the
    automation layer for every source) when a file arrives or changes."""
    globs = [table.glob for table in spec.filesystem.tables]

    @dg.sensor(
        name=f"{spec.name}_export_sensor",
        job_name=f"{spec.name}_refresh",
        minimum_interval_seconds=60,
        default_status=dg.DefaultSensorStatus.STOPPED,
        description=f"Loads {spec.name}'s files as soon as one lands in its folder.",
    )
    def _sensor(context: dg.SensorEvaluationContext) -> dg.SensorResult:
        try:
            location = resolve_env(spec.filesystem.bucket_url)
        except KeyError as exc:
            return dg.SensorResult(skip_reason=str(exc))
        if "://" in location and not location.startswith("file://"):
            return dg.SensorResult(skip_reason="only local folders are watched; use the schedule")
        current = matching_files(Path(location.removeprefix("file://")), globs)
        changed = changed_files(current, json.loads(context.cursor) if context.cursor else {})
        if not changed:
            return dg.SensorResult(
                skip_reason="no new or changed files", cursor=json.dumps(current)
            )
        run_key = hashlib.sha256(
            json.dumps({n: current[n] for n in changed}, sort_keys=True).encode()
        ).hexdigest()
        context.log.info(f"new or changed: {', '.join(changed)}")
        # The cursor holds the files present now: it never grows past the folder.
        return dg.SensorResult(
            run_requests=[dg.RunRequest(run_key=run_key)], cursor=json.dumps(current)
        )

    return _sensor


def export_sensors(spec: SourceSpec) -> list[dg.SensorDefinition]:
    """The sensors of a file source: one on its folder."""
    return [export_sensor(spec)]
