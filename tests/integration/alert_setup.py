"""An alerts file with one channel of every kind, pointed at the local receivers."""

from pathlib import Path

from alert_receivers import KEYWORD

from tributary.contracts.alerts import AlertsFile, alerts_path, load_alerts

CHANNELS = ("slack", "dingtalk", "wecom", "lark", "email", "webhook")


def write_alerts(sources_dir: Path, smtp_port: int, ca_file: Path, extra: str = "") -> AlertsFile:
    """Every channel kind, one route sending every error to all of them."""
    path = alerts_path(sources_dir)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(
        f"""ui_url: http://dagster.example:3000
repeat_after: 4h
channels:
  slack: {{type: slack, webhook_url: "${{SLACK_WEBHOOK_URL}}", timeout: 2}}
  dingtalk:
    type: dingtalk
    webhook_url: ${{DINGTALK_WEBHOOK_URL}}
    secret: ${{DINGTALK_SECRET}}
    keyword: {KEYWORD}
    timeout: 2
  wecom: {{type: wecom, webhook_url: "${{WECOM_WEBHOOK_URL}}", timeout: 2}}
  lark: {{type: lark, webhook_url: "${{LARK_WEBHOOK_URL}}", secret: "${{LARK_SECRET}}", timeout: 2}}
  email:
    type: email
    host: ${{SMTP_HOST}}
    port: {smtp_port}
    ca_file: {ca_file}
    username: ${{SMTP_USER}}
    password: ${{SMTP_PASSWORD}}
    sender: tributary@example.com
    to: [oncall@example.com]
    timeout: 5
  webhook:
    type: webhook
    url: ${{INCIDENT_WEBHOOK_URL}}
    headers: {{Authorization: "${{INCIDENT_WEBHOOK_TOKEN}}"}}
    timeout: 2
routes:
  - name: everyone
    channels: [{", ".join(CHANNELS)}]
{extra}""",
        encoding="utf-8",
    )
    return load_alerts(sources_dir)
