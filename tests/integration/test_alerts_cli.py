"""`tributary alerts test` against the local receivers: each channel gets a test incident and
its resolution, one that is down is named, and the last line is for scripts."""

import os
import subprocess
import sys
from pathlib import Path

from alert_receivers import SECRETS, SMTP_PASSWORD, Mailbox, Receivers
from alert_setup import CHANNELS, write_alerts


def alerts_test(sources: Path, env: dict[str, str], *channels: str) -> subprocess.CompletedProcess:
    tributary = Path(sys.executable).with_name("tributary")
    return subprocess.run(
        [str(tributary), "alerts", "test", *channels],
        env={**os.environ, **env, "TRIBUTARY_SOURCES_DIR": str(sources)},
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_every_channel_gets_a_test_incident_and_a_down_one_is_named(tmp_path):
    with Receivers() as receivers, Mailbox(tmp_path) as mailbox:
        write_alerts(tmp_path / "sources", mailbox.port, mailbox.cert)
        env = {**receivers.env(), **mailbox.env()}
        result = alerts_test(tmp_path / "sources", env)
        assert result.returncode == 0, result.stderr
        assert result.stdout.splitlines()[-1] == (
            f"alerts test: channels={len(CHANNELS)} delivered={len(CHANNELS)} failed=0"
        )
        for name in CHANNELS:  # the incident and its resolution, each accepted
            got = mailbox.mails if name == "email" else receivers.vendors.accepted(name)
            assert len(got) == 2, (name, got)
        receivers.vendors.fail["lark"] = 10
        result = alerts_test(tmp_path / "sources", env, "lark", "slack")
        assert result.returncode == 1
        assert "lark (lark): FAILED — HTTP 500" in result.stdout
        assert result.stdout.splitlines()[-1] == "alerts test: channels=2 delivered=1 failed=1"
        assert SECRETS["lark"] not in result.stdout + result.stderr
        assert SMTP_PASSWORD not in result.stdout + result.stderr
