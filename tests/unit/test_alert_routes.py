"""Routes as functions: filters by event, source, group and severity; quiet hours."""

from datetime import UTC, datetime, time

from tributary.contracts.alerts import AlertsFile, QuietHours
from tributary.operate.incidents import Event, quiet_until, routed
from tributary.operate.outbox import backoff

ALERTS = AlertsFile.model_validate(
    {
        "repeat_after": "4h",
        "channels": {
            "slack": {"type": "slack", "webhook_url": "${S}"},
            "ding": {"type": "dingtalk", "webhook_url": "${D}"},
        },
        "routes": [
            {"name": "all", "channels": ["slack"]},
            {
                "name": "hr",
                "channels": ["ding", "slack"],
                "sources": ["hr"],
                "groups": ["raw_hr"],
                "severity": "warning",
                "repeat_after": "1h",
                "quiet_hours": {"start": "22:00", "end": "07:00", "timezone": "Asia/Shanghai"},
            },
        ],
    }
)
NOON_SHANGHAI = datetime(2026, 12, 7, 4, 0, tzinfo=UTC)
MIDNIGHT_SHANGHAI = datetime(2026, 12, 7, 16, 0, tzinfo=UTC)


def test_routes_filter_by_source_group_and_severity():
    hr_error = Event("check_failed", "raw_hr/employees:x", True, source="hr", group="raw_hr")
    assert routed(ALERTS, hr_error, NOON_SHANGHAI) == {
        "slack": (NOON_SHANGHAI, 3600.0),  # the shorter repeat of the two routes
        "ding": (NOON_SHANGHAI, 3600.0),
    }
    crm_error = Event("check_failed", "raw_crm/users:x", True, source="crm", group="raw_crm")
    assert list(routed(ALERTS, crm_error, NOON_SHANGHAI)) == ["slack"]
    hr_warning = Event("check_failed", "k", True, severity="warning", source="hr", group="raw_hr")
    assert list(routed(ALERTS, hr_warning, NOON_SHANGHAI)) == ["ding", "slack"]
    other_group = Event("check_failed", "k", True, severity="warning", source="hr", group="marts")
    assert routed(ALERTS, other_group, NOON_SHANGHAI) == {}


def test_quiet_hours_hold_warnings_until_morning_but_never_errors():
    quiet = QuietHours(start=time(22), end=time(7), timezone="Asia/Shanghai")
    seven_shanghai = datetime(2026, 12, 7, 23, 0, tzinfo=UTC)
    assert quiet_until(quiet, "warning", MIDNIGHT_SHANGHAI) == seven_shanghai
    assert quiet_until(quiet, "error", MIDNIGHT_SHANGHAI) == MIDNIGHT_SHANGHAI
    assert quiet_until(quiet, "warning", NOON_SHANGHAI) == NOON_SHANGHAI
    day = QuietHours(start=time(12), end=time(13), timezone="UTC")
    assert quiet_until(day, "warning", datetime(2026, 1, 1, 12, 30, tzinfo=UTC)) == datetime(
        2026, 1, 1, 13, 0, tzinfo=UTC
    )


def test_backoff_doubles_to_an_hour():
    assert [backoff(n) for n in (1, 2, 3, 8, 12)] == [30, 60, 120, 3600, 3600]
