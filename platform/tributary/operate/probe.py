"""``tributary alerts test``: one test incident and its resolution to each declared channel.

Sent directly (not queued): the point is to see, now, that each channel's URL, secret,
signature and keyword are right. One line per channel, and a last line a script can read.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from datetime import UTC, datetime

from tributary.contracts.alerts import AlertsFile
from tributary.operate.messages import Message, scrub
from tributary.operate.senders import DeliveryError, deliver


def probe_messages(now: datetime) -> tuple[Message, Message]:
    incident = Message(
        status="incident",
        event="test",
        key="test:alerts",
        summary="test alert from tributary alerts test (no action needed)",
        severity="warning",
        details=("if this channel shows this message and its resolution, it is set up",),
        opened_at=now.strftime("%Y-%m-%dT%H:%M:%SZ"),
    )
    return incident, Message(**{**incident.__dict__, "status": "resolved"})


def probe(
    alerts: AlertsFile,
    names: list[str] | None = None,
    env: Mapping[str, str] | None = None,
    secrets: list[str] = (),
) -> tuple[list[str], int]:
    """Lines to print (one per channel, then the summary) and how many channels failed."""
    env = os.environ if env is None else env
    lines, failed = [], 0
    chosen = names or sorted(alerts.channels)
    for name in chosen:
        channel = alerts.channels.get(name)
        if channel is None:
            lines.append(f"{name}: no such channel (declared: {', '.join(alerts.channels)})")
            failed += 1
            continue
        try:
            for message in probe_messages(datetime.now(UTC)):
                deliver(channel, message, env)
            lines.append(f"{name} ({channel.type}): delivered a test incident and its resolution")
        except DeliveryError as exc:
            failed += 1
            lines.append(f"{name} ({channel.type}): FAILED — {scrub(str(exc), list(secrets))}")
    lines.append(
        f"alerts test: channels={len(chosen)} delivered={len(chosen) - failed} failed={failed}"
    )
    return lines, failed
