"""Each sender against a local receiver as strict as its vendor: signatures, keyword, shapes."""

import pytest
from alert_receivers import KEYWORD, SECRETS, SMTP_PASSWORD, TOKENS, Mailbox, Receivers
from alert_setup import CHANNELS, write_alerts

from tributary.contracts.alerts import DingTalk, Lark
from tributary.operate.messages import Message
from tributary.operate.senders import DeliveryError, deliver

MESSAGE = Message(
    status="incident",
    event="run_failed",
    key="run_failed:hr_refresh",
    summary="run of hr_refresh failed",
    source="hr",
    asset="hr_refresh",
    details=("step raw_hr__employees: ConnectionError: HR API unreachable",),
    link="http://dagster.example:3000/runs/abc",
    opened_at="2026-12-07T23:00:00Z",
)


@pytest.fixture
def receivers():
    with Receivers() as running:
        yield running


@pytest.fixture
def mailbox(tmp_path):
    with Mailbox(tmp_path) as running:
        yield running


def test_every_channel_delivers_in_its_vendors_format(tmp_path, receivers, mailbox):
    alerts = write_alerts(tmp_path, mailbox.port, mailbox.cert)
    env = {**receivers.env(), **mailbox.env()}
    for name in CHANNELS:
        deliver(alerts.channels[name], MESSAGE, env)
    got = receivers.vendors
    assert got.refused == []
    assert got.accepted("slack")[0]["text"].startswith("[Tributary] 🔴 run of hr_refresh failed")
    ding = got.accepted("dingtalk")[0]
    assert ding["msgtype"] == "markdown" and KEYWORD in ding["markdown"]["text"]
    assert got.accepted("wecom")[0]["markdown"]["content"].startswith("### [Tributary]")
    lark = got.accepted("lark")[0]
    assert lark["msg_type"] == "text" and "hr_refresh" in lark["content"]["text"]
    assert got.accepted("webhook")[0]["key"] == "run_failed:hr_refresh"
    (mail,) = mailbox.mails
    assert mail["Subject"] == MESSAGE.title and "raw_hr__employees" in mail.get_content()
    everything = str(got.received) + str(mail)
    for secret in [*SECRETS.values(), *TOKENS.values(), SMTP_PASSWORD]:
        assert secret not in everything


def test_a_wrong_signature_or_missing_keyword_is_refused_and_named(tmp_path, receivers):
    env = {**receivers.env(), "DINGTALK_SECRET": "SECwrong", "LARK_SECRET": "wrong"}
    ding = DingTalk(
        type="dingtalk", webhook_url="${DINGTALK_WEBHOOK_URL}", secret="${DINGTALK_SECRET}"
    )
    with pytest.raises(DeliveryError, match="code 310000 sign not match"):
        deliver(ding, MESSAGE, env)
    lark = Lark(type="lark", webhook_url="${LARK_WEBHOOK_URL}", secret="${LARK_SECRET}")
    with pytest.raises(DeliveryError, match="code 19021"):
        deliver(lark, MESSAGE, env)
    # the right secret, but the channel does not say the robot's keyword: refused
    no_keyword = DingTalk(
        type="dingtalk", webhook_url="${DINGTALK_WEBHOOK_URL}", secret="${DINGTALK_SECRET}"
    )
    with pytest.raises(DeliveryError, match="keywords not in content"):
        deliver(no_keyword, MESSAGE, receivers.env())
    assert len(receivers.vendors.refused) == 3 and receivers.vendors.received == {}


def test_an_unset_variable_or_a_hanging_channel_fails_quickly_without_the_url(receivers):
    with pytest.raises(DeliveryError, match="DINGTALK_WEBHOOK_URL"):
        deliver(DingTalk(type="dingtalk", webhook_url="${DINGTALK_WEBHOOK_URL}"), MESSAGE, {})
    receivers.vendors.hang_s["lark"] = 3
    lark = Lark(
        type="lark", webhook_url="${LARK_WEBHOOK_URL}", secret="${LARK_SECRET}", timeout=0.5
    )
    with pytest.raises(DeliveryError) as exc:
        deliver(lark, MESSAGE, receivers.env())
    assert str(exc.value) == "no answer within 0.5s"
