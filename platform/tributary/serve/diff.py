"""`tributary api diff`: what changed between the OpenAPI a server runs and the one the
declarations make now. Breaking: a dataset, field, filter or sort gone, or a field retyped;
the rest are additions. (Publishing a breaking change as /v2 is not built yet: docs/api.md.)"""

from __future__ import annotations

import json
import urllib.request
from pathlib import Path

SKIP = {"Problem"}


def _datasets(spec: dict) -> dict[str, dict]:
    return {n: s for n, s in spec["components"]["schemas"].items() if n not in SKIP}


def _type(schema: dict) -> tuple:
    return (schema.get("x-duckdb-type"), str(schema.get("type")), schema.get("format"))


def _options(spec: dict, name: str) -> set[str]:
    """Query parameters of a dataset's listing, and its sort choices."""
    params = spec["paths"].get(f"/v1/{name}", {}).get("get", {}).get("parameters", [])
    found = {f"parameter {p['name']}" for p in params}
    for p in params:
        if p["name"] == "sort":
            found |= {f"sort {choice}" for choice in p["schema"].get("enum", [])}
    return found


def spec_changes(old: dict, new: dict) -> tuple[list[str], list[str]]:
    """(breaking changes, additions), each a line a person reads."""
    breaking, added = [], []
    before, after = _datasets(old), _datasets(new)
    breaking += [f"{name}: dataset removed" for name in sorted(set(before) - set(after))]
    added += [f"{name}: dataset added" for name in sorted(set(after) - set(before))]
    for name in sorted(set(before) & set(after)):
        was, now = before[name]["properties"], after[name]["properties"]
        breaking += [f"{name}.{f}: field removed" for f in sorted(set(was) - set(now))]
        added += [f"{name}.{f}: field added" for f in sorted(set(now) - set(was))]
        for field in sorted(set(was) & set(now)):
            if _type(was[field]) != _type(now[field]):
                breaking.append(f"{name}.{field}: type {_type(was[field])[0]} → "
                                f"{_type(now[field])[0]}")  # fmt: skip
            if was[field].get("x-classification") != now[field].get("x-classification"):
                added.append(f"{name}.{field}: now {now[field].get('x-classification')}")
        options_before, options_after = _options(old, name), _options(new, name)
        breaking += [f"{name}: {o} removed" for o in sorted(options_before - options_after)]
        added += [f"{name}: {o} added" for o in sorted(options_after - options_before)]
    return breaking, added


def read_spec(where: str) -> dict:
    """An OpenAPI document from a server (http…: its /openapi.json) or a file."""
    if where.startswith(("http://", "https://")):
        url = where if where.endswith(".json") else where.rstrip("/") + "/openapi.json"
        with urllib.request.urlopen(url, timeout=10) as response:
            return json.load(response)
    return json.loads(Path(where).read_text(encoding="utf-8"))
