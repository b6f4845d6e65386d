"""The alerts file (sources/operate/alerts.yaml): mistakes come back as file:line and fix."""

from pathlib import Path

import pytest

from tributary.contracts.alerts import alerts_path, load_alerts
from tributary.contracts.specfile import SpecErrors
from tributary.settings import PROJECT_ROOT


def write(tmp_path: Path, text: str) -> Path:
    path = alerts_path(tmp_path)
    path.parent.mkdir(parents=True)
    path.write_text(text, encoding="utf-8")
    return path


def errors(tmp_path: Path, text: str, sources: list[str] | None = None) -> list[str]:
    path = write(tmp_path, text)
    with pytest.raises(SpecErrors) as exc:
        load_alerts(tmp_path, sources)
    return [str(e).replace(str(path), "alerts.yaml") for e in exc.value.errors]


def test_the_committed_file_is_valid():
    alerts = load_alerts(PROJECT_ROOT / "sources", ["crm", "erp", "finance", "hr"])
    kinds = {c.type for c in alerts.channels.values()}
    assert kinds == {"slack", "dingtalk", "wecom", "lark", "email"}
    assert [r.name for r in alerts.routes] == ["oncall", "people_data", "finance"]


def test_no_file_means_no_channels(tmp_path):
    assert load_alerts(tmp_path).channels == {}


def test_a_literal_secret_is_refused_on_its_line(tmp_path):
    found = errors(
        tmp_path,
        "channels:\n"
        "  ding:\n"
        "    type: dingtalk\n"
        "    webhook_url: https://oapi.dingtalk.com/robot/send?access_token=abc\n"
        "    secret: SECabc\n",
    )
    assert len(found) == 2
    assert found[0].startswith("alerts.yaml:4: channels.ding.webhook_url:")
    assert found[1].startswith("alerts.yaml:5: channels.ding.secret:")
    assert "${NAME}" in found[0]
    assert "SECabc" not in " ".join(found) and "access_token=abc" not in " ".join(found)


def test_unknown_channel_source_type_and_zone_are_named(tmp_path):
    found = errors(
        tmp_path,
        "channels:\n"
        "  slack:\n"
        "    type: slack\n"
        "    webhook_url: ${SLACK_URL}\n"
        "routes:\n"
        "  - name: team\n"
        "    channels: [slack, pager]\n"
        "    sources: [hr, payroll]\n",
        ["hr", "crm"],
    )
    assert found == [
        "alerts.yaml:7: routes.0.channels: no channel named 'pager' — fix: declare it under "
        "`channels:` or use one of: slack",
        "alerts.yaml:8: routes.0.sources: no source named 'payroll' — fix: use one of: crm, hr",
    ]
    found = errors(
        tmp_path / "b",
        "channels:\n  x:\n    type: teams\n    url: ${U}\n"
        "routes:\n  - name: r\n    channels: [x]\n"
        "    quiet_hours: {start: '22:00', end: '07:00', timezone: Mars/Olympus}\n",
    )
    assert found[0].startswith("alerts.yaml:2: channels.x:") and "slack" in found[0]
    assert found[1].startswith("alerts.yaml:8: routes.0.quiet_hours.timezone:")


def test_a_misspelt_key_is_named_on_its_line(tmp_path):
    found = errors(
        tmp_path,
        "channels:\n  lark:\n    type: lark\n    webhook_url: ${L}\n    secrett: ${S}\n",
    )
    assert found == [
        "alerts.yaml:5: channels.lark.secrett: Extra inputs are not permitted — fix: remove the key"
    ]
