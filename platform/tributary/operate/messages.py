"""What an alert says: one message shape, rendered as each channel's text or markdown."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

Status = Literal["incident", "reminder", "resolved"]
PRODUCT = "Tributary"
_HEADINGS = {"incident": "🔴", "reminder": "🔁 still open:", "resolved": "✅ resolved:"}


@dataclass(frozen=True)
class Message:
    """One message about one incident. ``details`` are short lines (step, error's first line);
    ``link`` points at the run in the Dagster UI. Nothing here may hold a secret: texts are
    scrubbed before they are recorded or sent (``scrub``)."""

    status: Status
    event: str  # run_failed, check_failed, stale
    key: str  # the incident: event kind + asset (or job)
    summary: str  # "run of hr_refresh failed"
    severity: str = "error"
    source: str | None = None
    asset: str | None = None
    details: tuple[str, ...] = ()
    link: str | None = None
    opened_at: str = ""  # ISO time the incident opened
    extra: dict[str, str] = field(default_factory=dict)

    @property
    def title(self) -> str:
        return f"[{PRODUCT}] {_HEADINGS[self.status]} {self.summary}"

    def _facts(self) -> list[tuple[str, str]]:
        facts = [("severity", self.severity)]
        facts += [(k, v) for k, v in (("source", self.source), ("asset", self.asset)) if v]
        return facts + [("since", self.opened_at)] if self.opened_at else facts

    def text(self) -> str:
        lines = [self.title, *(f"{k}: {v}" for k, v in self._facts()), *self.details]
        return "\n".join([*lines, *([f"run: {self.link}"] if self.link else [])])

    def markdown(self) -> str:
        lines = [f"### {self.title}", *(f"- **{k}**: {v}" for k, v in self._facts())]
        lines += [f"> {d}" for d in self.details]
        return "\n".join([*lines, *([f"[open the run]({self.link})"] if self.link else [])])

    def as_json(self) -> dict[str, object]:
        """The generic webhook's body (docs/operations.md)."""
        return {
            "status": self.status,
            "event": self.event,
            "key": self.key,
            "summary": self.summary,
            "severity": self.severity,
            "source": self.source,
            "asset": self.asset,
            "details": list(self.details),
            "link": self.link,
            "opened_at": self.opened_at,
            "text": self.text(),
        }


def scrub(text: str, secrets: list[str]) -> str:
    """``text`` with every known secret value replaced (longest first, so none half-survives)."""
    for secret in sorted({s for s in secrets if len(s) >= 4}, key=len, reverse=True):
        text = text.replace(secret, "***")
    return text
