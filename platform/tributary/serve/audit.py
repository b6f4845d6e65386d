"""The audit trail: one JSON line per call, allowed or denied, in ``data/api/audit/`` (a file
per UTC day, loadable like any file source).

What a line holds is chosen here, field by field: never the Authorization header, a token, a
client secret, or a value of a personal field (a parameter naming one is written as `***`).
"""

from __future__ import annotations

import hashlib
import json
import threading
from datetime import UTC, datetime
from pathlib import Path

HIDDEN = "***"


class AuditLog:
    def __init__(self, folder: Path):
        self.folder = folder
        self._lock = threading.Lock()

    def path_for(self, day: datetime) -> Path:
        return self.folder / f"audit-{day:%Y-%m-%d}.jsonl"

    def write(self, record: dict) -> None:
        now = datetime.now(UTC)
        line = json.dumps({"time": now.isoformat(timespec="milliseconds"), **record},
                          ensure_ascii=False, default=str)  # fmt: skip
        with self._lock:
            self.folder.mkdir(parents=True, exist_ok=True)
            with self.path_for(now).open("a", encoding="utf-8") as out:
                out.write(line + "\n")


def safe_parameters(items: list[tuple[str, str]], personal: set[str]) -> dict[str, list[str]]:
    """The query parameters as the audit keeps them: personal fields' values hidden, and a
    cursor (which holds a row's sort value) as a digest that still ties pages together."""
    kept: dict[str, list[str]] = {}
    for key, value in items:
        name = key.split("[", 1)[0]
        if key == "cursor":
            value = "sha256:" + hashlib.sha256(value.encode()).hexdigest()[:16]
        kept.setdefault(key[:100], []).append(HIDDEN if name in personal else value[:200])
    return kept
