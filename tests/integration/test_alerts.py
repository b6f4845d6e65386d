"""Real incidents to every channel kind: a failing Dagster run, a check that fails and passes.

Each channel (local receivers as strict as the vendors, an SMTP server with STARTTLS) must get
exactly one incident message and one resolved message, with no secret in either; a channel
answering 500s gets its messages once it recovers (none lost, none twice), and one that hangs
delays the others by no more than its timeout.
"""

import time
from datetime import UTC, datetime, timedelta

import dagster as dg
import pytest
from alert_receivers import SECRETS, SMTP_PASSWORD, TOKENS, WEBHOOK_TOKEN, Mailbox, Receivers
from alert_setup import CHANNELS, write_alerts

from tributary.contracts.source import SourceSpec, load_spec
from tributary.operate.sensor import Watched, tick
from tributary.operate.store import connect, store_path
from tributary.quality.freshness import JOB_NAME as FRESHNESS_JOB
from tributary.quality.freshness import build_freshness_checks, build_freshness_sensors

LEAKED = "hr-api-token-d00d"  # a source secret that appears in the failing step's error
CHECK = dg.AssetCheckKey(dg.AssetKey(["raw_hr", "employees"]), "employees_have_ids")


class Clock:
    def __init__(self) -> None:
        self.now = datetime.now(UTC)

    def advance(self, seconds: float) -> None:
        self.now += timedelta(seconds=seconds)


@pytest.fixture
def world(tmp_path, settings):
    with Receivers() as receivers, Mailbox(tmp_path) as mailbox:
        alerts = write_alerts(tmp_path / "sources", mailbox.port, mailbox.cert)
        env = {**receivers.env(), **mailbox.env(), "HR_API_TOKEN": LEAKED}
        yield receivers, mailbox, alerts, env


def hr_spec(folder, freshness: str = "") -> SourceSpec:
    """The source whose token leaks into the error: its ``${HR_API_TOKEN}`` is a secret."""
    path = folder / "hr.yaml"
    path.write_text(
        f"name: hr\nkind: rest_api\n{freshness}rest_api:\n  client:\n"
        "    base_url: http://127.0.0.1:9\n"
        "    auth: {type: bearer, token: '${HR_API_TOKEN}'}\n"
        "  resources: [{name: employees, endpoint: {path: v1/employees}}]\n",
        encoding="utf-8",
    )
    return load_spec(path)


def refresh_job(fail: bool) -> dg.JobDefinition:
    @dg.op(name="raw_hr__employees")
    def load() -> None:
        if fail:
            raise ConnectionError(f"HR API refused token {LEAKED}\nsecond line of detail")

    @dg.job(name="hr_refresh")
    def job() -> None:
        load()

    return job


def checked_asset(passing: bool) -> list:
    @dg.asset(key=["raw_hr", "employees"], group_name="raw_hr")
    def employees() -> None:
        return None

    @dg.asset_check(asset=employees, name="employees_have_ids")
    def employees_have_ids() -> dg.AssetCheckResult:
        return dg.AssetCheckResult(
            passed=passing,
            severity=dg.AssetCheckSeverity.ERROR,
            description="ok" if passing else "3 rows without employee_id",
        )

    return [employees, employees_have_ids]


def received(receivers: Receivers, mailbox: Mailbox) -> dict[str, list[str]]:
    """Every accepted message per channel, as text."""
    got = {name: [str(b) for b in receivers.vendors.accepted(name)] for name in CHANNELS}
    got["email"] = [f"{m['Subject']}\n{m.get_content()}" for m in mailbox.mails]
    return got


def assert_no_secret(texts: dict[str, list[str]]) -> None:
    everything = "\n".join(t for ts in texts.values() for t in ts)
    for secret in [LEAKED, WEBHOOK_TOKEN, SMTP_PASSWORD, *SECRETS.values(), *TOKENS.values()]:
        assert secret not in everything


def test_a_failed_run_alerts_every_channel_once_and_resolves(world, settings, tmp_path):
    receivers, mailbox, alerts, env = world
    instance = dg.DagsterInstance.ephemeral()
    watched = Watched(specs=[hr_spec(tmp_path)])
    clock = Clock()
    failed = refresh_job(fail=True).execute_in_process(instance=instance, raise_on_error=False)
    assert not failed.success
    changes, done = tick(instance, settings, alerts, watched, clock.now, env)
    assert changes == ["run_failed:hr_refresh opened"] and len(done.sent) == len(CHANNELS)
    clock.advance(60)
    tick(instance, settings, alerts, watched, clock.now, env)  # nothing new: nothing sent
    got = received(receivers, mailbox)
    assert all(len(got[name]) == 1 for name in CHANNELS), got
    for name in CHANNELS:
        text = got[name][0]
        assert "run of hr_refresh failed" in text and f"/runs/{failed.run_id}" in text
        assert "source: hr" in text or "source**: hr" in text or "'source': 'hr'" in text
        assert "step raw_hr__employees: ConnectionError: HR API refused token ***" in text
        assert "second line" not in text
    refresh_job(fail=False).execute_in_process(instance=instance)
    clock.advance(60)
    changes, done = tick(instance, settings, alerts, watched, clock.now, env)
    assert changes == ["run_failed:hr_refresh resolved"] and len(done.sent) == len(CHANNELS)
    got = received(receivers, mailbox)
    assert all(len(got[name]) == 2 and "resolved" in got[name][1] for name in CHANNELS), got
    assert receivers.vendors.refused == []
    assert_no_secret(got)


def test_a_failing_check_alerts_once_and_resolves_when_it_passes(world, settings):
    receivers, mailbox, alerts, env = world
    instance = dg.DagsterInstance.ephemeral()
    watched = Watched(check_keys=[CHECK], groups={CHECK.asset_key: "raw_hr"})
    clock = Clock()
    for _ in range(2):  # failing twice is still one incident
        dg.materialize(checked_asset(passing=False), instance=instance, raise_on_error=False)
        changes, _ = tick(instance, settings, alerts, watched, clock.now, env)
        clock.advance(60)
    dg.materialize(checked_asset(passing=True), instance=instance)
    changes, done = tick(instance, settings, alerts, watched, clock.now, env)
    assert changes == ["check_failed:raw_hr/employees:employees_have_ids resolved"]
    got = received(receivers, mailbox)
    for name in CHANNELS:
        assert len(got[name]) == 2, (name, got[name])
        assert "check employees_have_ids on raw_hr/employees failed" in got[name][0]
        assert "3 rows without employee_id" in got[name][0] and "resolved" in got[name][1]
    assert_no_secret(got)


def test_a_channel_returning_500s_gets_everything_once_when_it_recovers(world, settings):
    receivers, mailbox, alerts, env = world
    instance = dg.DagsterInstance.ephemeral()
    clock = Clock()
    receivers.vendors.fail["slack"] = 3  # three 500s, then healthy
    receivers.vendors.hang_s["lark"] = 4  # Lark hangs past its 2 s timeout, once
    refresh_job(fail=True).execute_in_process(instance=instance, raise_on_error=False)
    started = time.monotonic()
    _, done = tick(instance, settings, alerts, Watched(), clock.now, env)
    assert time.monotonic() - started < 8  # the hang cost one timeout, not the tick
    assert sorted(f.split(":")[0] for f in done.failed) == ["lark", "slack"]
    assert "slack: HTTP 500 (attempt 1 of 12)" in done.failed
    receivers.vendors.hang_s["lark"] = 0
    refresh_job(fail=False).execute_in_process(instance=instance)  # resolved while slack is down
    for _ in range(6):
        clock.advance(3600)
        tick(instance, settings, alerts, Watched(), clock.now, env)
    got = received(receivers, mailbox)
    assert [len(got[name]) for name in CHANNELS] == [2] * len(CHANNELS), got
    assert "resolved" not in got["slack"][0] and "resolved" in got["slack"][1]
    with connect(store_path(settings.data_dir)) as con:
        states = con.execute("select channel, state, attempts from messages").fetchall()
        failures = con.execute("select count(*) from attempts where ok = 0").fetchone()[0]
    assert {s["state"] for s in states} == {"sent"}
    assert {(s["channel"], s["attempts"]) for s in states if s["attempts"] > 1} == {
        ("slack", 4),
        ("lark", 2),
    }
    assert failures == 4  # three 500s and one timeout, each recorded


def test_a_source_past_block_after_alerts_once_and_resolves_when_fresh(world, settings, tmp_path):
    """The quality layer's real freshness check, evaluated "80 h later" by its clock."""
    receivers, mailbox, alerts, env = world
    instance = dg.DagsterInstance.ephemeral()
    spec = hr_spec(tmp_path, freshness="freshness: {warn_after: 26h, block_after: 72h}\n")
    check_clock = Clock()
    defs = dg.Definitions(
        asset_checks=build_freshness_checks(settings, [spec], clock=lambda: check_clock.now),
        sensors=build_freshness_sensors([spec], clock=lambda: check_clock.now),
    )
    key = dg.AssetKey(["raw_hr", "employees"])
    watched = Watched(check_keys=[dg.AssetCheckKey(key, "freshness")], specs=[spec])

    def evaluate_after(hours: float) -> list[str]:
        instance.report_runless_asset_event(dg.AssetMaterialization(key))  # a load, now
        check_clock.now = datetime.now(UTC) + timedelta(hours=hours)
        defs.resolve_job_def(FRESHNESS_JOB).execute_in_process(instance=instance)
        return tick(instance, settings, alerts, watched, check_clock.now, env)[0]

    assert evaluate_after(30) == []  # stale is a warning: no incident
    assert evaluate_after(80) == ["stale:raw_hr/employees opened"]
    assert evaluate_after(1) == ["stale:raw_hr/employees resolved"]
    got = received(receivers, mailbox)
    for name in CHANNELS:
        assert len(got[name]) == 2, (name, got[name])
        assert "raw_hr/employees is past its freshness block_after" in got[name][0]
        assert "80.0 h ago" in got[name][0] and "resolved" in got[name][1]
    assert_no_secret(got)


def test_an_incident_still_open_is_sent_again_after_repeat_after(world, settings):
    receivers, mailbox, alerts, env = world
    instance = dg.DagsterInstance.ephemeral()
    clock = Clock()
    refresh_job(fail=True).execute_in_process(instance=instance, raise_on_error=False)
    tick(instance, settings, alerts, Watched(), clock.now, env)
    clock.advance(3 * 3600)  # within repeat_after (4h): nothing
    assert tick(instance, settings, alerts, Watched(), clock.now, env)[1].sent == []
    clock.advance(3600)
    _, done = tick(instance, settings, alerts, Watched(), clock.now, env)
    assert len(done.sent) == len(CHANNELS)
    assert all("still open: run of hr_refresh failed" in line for line in done.sent)
    clock.advance(60)  # and not again until another 4 h have passed
    assert tick(instance, settings, alerts, Watched(), clock.now, env)[1].sent == []
    got = received(receivers, mailbox)
    assert all(len(got[name]) == 2 for name in CHANNELS), got
