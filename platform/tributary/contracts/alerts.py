"""Alert channels and routes (``sources/operate/alerts.yaml``): who hears about what.

``channels`` name the places messages go (Slack, DingTalk, WeCom, Lark/Feishu, e-mail, a
generic JSON webhook); every URL, token and secret is an ``${ENV_VAR}`` reference, resolved
only when a message is sent. ``routes`` say which events reach which channels, filtered by
source, asset group and severity, with quiet hours in which only errors are delivered.
"""

from __future__ import annotations

import re
from datetime import time, timedelta
from pathlib import Path
from typing import Annotated, Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import AfterValidator, Field, field_validator

from tributary.contracts.rest_api import Duration, duration_seconds
from tributary.contracts.specfile import (
    NAME_PATTERN,
    SpecError,
    SpecErrors,
    Strict,
    line_of,
    load_model,
)

ALERTS_FILE = Path("operate") / "alerts.yaml"
# The events a route can ask for. run_failed: a job's run failed (resolved by its next
# success); check_failed: a check failed (resolved when it passes); stale: a source past its
# freshness block_after (resolved when it is fresh again).
EVENTS = ("run_failed", "check_failed", "stale")
Event = Literal["run_failed", "check_failed", "stale"]
Severity = Literal["warning", "error"]
_ONLY_REFERENCE = re.compile(r"^\$\{[A-Z_][A-Z0-9_]*\}$")
_REFERENCE_FIX = "put the value in an environment variable and write `${NAME}` here"


def _reference(value: str) -> str:
    if not _ONLY_REFERENCE.match(value.strip()):
        raise ValueError(
            "URLs, tokens and secrets are written as one `${ENV_VAR}` reference, never "
            f"literally: {_REFERENCE_FIX}"
        )
    return value.strip()


EnvRef = Annotated[str, AfterValidator(_reference)]


class _Channel(Strict):
    timeout: float = Field(5.0, gt=0, le=60, description="Seconds before one attempt gives up.")


class Slack(_Channel):
    """A Slack incoming webhook (https://hooks.slack.com/services/…)."""

    type: Literal["slack"]
    webhook_url: EnvRef


class DingTalk(_Channel):
    """A DingTalk group robot: keyword mode (every message carries the keyword), signed mode
    (``secret``: timestamp and HMAC-SHA256 signature on each request), or both."""

    type: Literal["dingtalk"]
    webhook_url: EnvRef = Field(description="…/robot/send?access_token=…, as one ${VAR}.")
    secret: EnvRef | None = Field(None, description="The robot's SEC… secret (signed mode).")
    keyword: str | None = Field(None, min_length=1, description="The robot's custom keyword.")


class WeCom(_Channel):
    """A WeCom (企业微信) group robot (…/cgi-bin/webhook/send?key=…)."""

    type: Literal["wecom"]
    webhook_url: EnvRef


class Lark(_Channel):
    """A Lark/Feishu custom bot (…/open-apis/bot/v2/hook/…), signed when ``secret`` is set."""

    type: Literal["lark"]
    webhook_url: EnvRef
    secret: EnvRef | None = None


class Email(_Channel):
    """E-mail over SMTP, with STARTTLS and login when the server asks for them."""

    type: Literal["email"]
    host: EnvRef
    port: int = Field(587, ge=1, le=65535)
    starttls: bool = True
    ca_file: str | None = Field(None, description="A CA bundle for a private server's TLS.")
    username: EnvRef | None = None
    password: EnvRef | None = None
    sender: str = Field(pattern=r"^[^@\s]+@[^@\s]+$")
    to: list[Annotated[str, Field(pattern=r"^[^@\s]+@[^@\s]+$")]] = Field(min_length=1)


class Webhook(_Channel):
    """A generic JSON webhook (an incident tool): one POST per message, JSON described in
    docs/operations.md; header values (e.g. Authorization) as ``${VAR}``."""

    type: Literal["webhook"]
    url: EnvRef
    headers: dict[str, EnvRef] = Field(default_factory=dict)


Channel = Annotated[Slack | DingTalk | WeCom | Lark | Email | Webhook, Field(discriminator="type")]


class QuietHours(Strict):
    """A time of day in which only errors are delivered (warnings wait until it ends)."""

    start: time
    end: time
    timezone: str = "UTC"

    @field_validator("timezone")
    @classmethod
    def _known_zone(cls, value: str) -> str:
        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError):
            raise ValueError(f"{value!r} is not a time zone: write e.g. Asia/Shanghai") from None
        return value


class Route(Strict):
    """Which events go to which channels. An empty filter matches everything."""

    name: str = Field(pattern=NAME_PATTERN)
    channels: list[str] = Field(min_length=1)
    events: list[Event] = Field(default_factory=lambda: list(EVENTS))
    sources: list[str] = Field(default_factory=list, description="Source names; empty: all.")
    groups: list[str] = Field(default_factory=list, description="Asset groups; empty: all.")
    severity: Severity = Field("error", description="The least severity delivered.")
    quiet_hours: QuietHours | None = None
    repeat_after: Duration | None = Field(None, description="Overrides the file's default.")


class AlertsFile(Strict):
    ui_url: str = Field(
        "http://127.0.0.1:3000", description="The Dagster UI, for links to runs (no secret)."
    )
    repeat_after: Duration = Field(
        "4h", description="An open incident is sent again after this long (e.g. 4h, 1d)."
    )
    channels: dict[Annotated[str, Field(pattern=NAME_PATTERN)], Channel] = Field(
        default_factory=dict
    )
    routes: list[Route] = Field(default_factory=list)

    def repeat_interval(self, route: Route) -> timedelta:
        return timedelta(seconds=duration_seconds(route.repeat_after or self.repeat_after))


def alerts_path(sources_dir: Path) -> Path:
    return sources_dir / ALERTS_FILE


def load_alerts(sources_dir: Path, source_names: list[str] | None = None) -> AlertsFile:
    """The channels and routes (none when the file is absent); routes must name declared
    channels and, when ``source_names`` is given, sources that exist."""
    path = alerts_path(sources_dir)
    if not path.exists():
        return AlertsFile()
    model, node = load_model(path, AlertsFile)
    errors = []
    for i, route in enumerate(model.routes):
        for j, name in enumerate(route.channels):
            if name not in model.channels:
                known = ", ".join(sorted(model.channels)) or "none declared"
                errors.append(
                    SpecError(
                        path,
                        line_of(node, ("routes", i, "channels", j)),
                        f"routes.{i}.channels: no channel named {name!r}",
                        f"declare it under `channels:` or use one of: {known}",
                    )
                )
        for j, name in enumerate(route.sources):
            if source_names is not None and name not in source_names:
                errors.append(
                    SpecError(
                        path,
                        line_of(node, ("routes", i, "sources", j)),
                        f"routes.{i}.sources: no source named {name!r}",
                        f"use one of: {', '.join(sorted(source_names))}",
                    )
                )
    names = [r.name for r in model.routes]
    errors += [
        SpecError(path, line_of(node, ("routes", i, "name")), f"route {n!r} is declared twice")
        for i, n in enumerate(names)
        if n in names[:i]
    ]
    if errors:
        raise SpecErrors(errors)
    return model
