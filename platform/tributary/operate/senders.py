"""One sender per channel type, each writing its vendor's documented request.

Formats (checked against the vendors' documentation):
- Slack incoming webhook: POST ``{"text": …, "blocks": [section mrkdwn]}``; answers ``ok``.
- DingTalk robot: POST ``{"msgtype": "markdown", "markdown": {"title", "text"}}``; signed mode
  adds ``timestamp`` (ms) and ``sign`` = urlencode(base64(HMAC-SHA256(key=secret,
  msg="timestamp\\nsecret"))) to the query; keyword mode needs the keyword in the text. Answers
  ``{"errcode": 0}``, an error code (with HTTP 200) otherwise.
- WeCom group robot: POST ``{"msgtype": "markdown", "markdown": {"content"}}``; ``errcode``.
- Lark/Feishu custom bot: POST ``{"msg_type": "text", "content": {"text"}}`` with, when
  signed, ``timestamp`` (s) and ``sign`` = base64(HMAC-SHA256(key="timestamp\\nsecret", msg=
  "")) in the body; answers ``{"code": 0}``.
- E-mail: SMTP with STARTTLS and login; a generic webhook gets ``Message.as_json()``.

No request is retried here: the outbox (``outbox.py``) retries with backoff, so one slow
channel holds up nothing. Errors name what failed, never the URL (it holds the token).
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import smtplib
import ssl
import time
from collections.abc import Callable, Mapping
from email.message import EmailMessage
from typing import Any
from urllib.parse import quote_plus

import requests

from tributary.contracts.alerts import DingTalk, Email, Lark, Slack, Webhook, WeCom
from tributary.contracts.source import resolve_env
from tributary.operate.messages import Message


class DeliveryError(Exception):
    """A message not delivered; the text names why without the URL or any secret."""


def dingtalk_sign(timestamp_ms: int, secret: str) -> str:
    digest = hmac.new(
        secret.encode(), f"{timestamp_ms}\n{secret}".encode(), hashlib.sha256
    ).digest()
    return quote_plus(base64.b64encode(digest))


def lark_sign(timestamp_s: int, secret: str) -> str:
    digest = hmac.new(f"{timestamp_s}\n{secret}".encode(), b"", hashlib.sha256).digest()
    return base64.b64encode(digest).decode()


def _post(url: str, body: dict[str, Any], timeout: float, headers: Mapping[str, str] = {}):
    try:
        response = requests.post(url, json=body, headers=dict(headers), timeout=timeout)
    except requests.Timeout:
        raise DeliveryError(f"no answer within {timeout:g}s") from None
    except requests.RequestException as exc:  # its text holds the URL: keep only the kind
        raise DeliveryError(f"could not connect ({type(exc).__name__})") from None
    if response.status_code >= 300:
        raise DeliveryError(f"HTTP {response.status_code}")
    return response


def _vendor_code(response: requests.Response, code_keys: tuple[str, ...]) -> None:
    """DingTalk, WeCom and Lark answer HTTP 200 with an error code in the body."""
    try:
        answer = response.json()
    except ValueError:
        raise DeliveryError("the answer is not JSON") from None
    code = next((answer[k] for k in code_keys if k in answer), None)
    if code != 0:
        message = str(answer.get("errmsg") or answer.get("msg") or "")[:200]
        raise DeliveryError(f"refused: code {code} {message}".strip())


def send_slack(channel: Slack, message: Message, env: Mapping[str, str]) -> None:
    body = {
        "text": message.text(),
        "blocks": [{"type": "section", "text": {"type": "mrkdwn", "text": _slack_text(message)}}],
    }
    _post(resolve_env(channel.webhook_url, env), body, channel.timeout)


def _slack_text(message: Message) -> str:
    lines = [f"*{message.title}*", *message.details]
    if message.link:
        lines.append(f"<{message.link}|open the run>")
    return "\n".join(lines)


def send_dingtalk(channel: DingTalk, message: Message, env: Mapping[str, str]) -> None:
    url = resolve_env(channel.webhook_url, env)
    if channel.secret:
        stamp = int(time.time() * 1000)
        sign = dingtalk_sign(stamp, resolve_env(channel.secret, env))
        url += f"{'&' if '?' in url else '?'}timestamp={stamp}&sign={sign}"
    text = message.markdown()
    if channel.keyword and channel.keyword not in text:
        text = f"{text}\n\n{channel.keyword}"
    body = {"msgtype": "markdown", "markdown": {"title": message.title, "text": text}}
    _vendor_code(_post(url, body, channel.timeout), ("errcode",))


def send_wecom(channel: WeCom, message: Message, env: Mapping[str, str]) -> None:
    # WeCom's markdown content is limited to 4096 bytes.
    content = message.markdown().encode()[:4096].decode(errors="ignore")
    body = {"msgtype": "markdown", "markdown": {"content": content}}
    _vendor_code(_post(resolve_env(channel.webhook_url, env), body, channel.timeout), ("errcode",))


def send_lark(channel: Lark, message: Message, env: Mapping[str, str]) -> None:
    body: dict[str, Any] = {"msg_type": "text", "content": {"text": message.text()}}
    if channel.secret:
        stamp = int(time.time())
        body = {
            "timestamp": str(stamp),
            "sign": lark_sign(stamp, resolve_env(channel.secret, env)),
            **body,
        }
    response = _post(resolve_env(channel.webhook_url, env), body, channel.timeout)
    _vendor_code(response, ("code", "StatusCode"))


def send_email(channel: Email, message: Message, env: Mapping[str, str]) -> None:
    mail = EmailMessage()
    mail["Subject"], mail["From"], mail["To"] = message.title, channel.sender, ", ".join(channel.to)
    mail.set_content(message.text())
    host = resolve_env(channel.host, env)
    try:
        with smtplib.SMTP(host, channel.port, timeout=channel.timeout) as smtp:
            if channel.starttls:
                smtp.starttls(context=ssl.create_default_context(cafile=channel.ca_file))
            if channel.username:
                password = resolve_env(channel.password or "", env)
                smtp.login(resolve_env(channel.username, env), password)
            smtp.send_message(mail)
    except TimeoutError:
        raise DeliveryError(f"no answer within {channel.timeout:g}s") from None
    except smtplib.SMTPResponseException as exc:
        raise DeliveryError(f"SMTP {exc.smtp_code}") from None
    except (smtplib.SMTPException, OSError) as exc:
        raise DeliveryError(f"SMTP failed ({type(exc).__name__})") from None


def send_webhook(channel: Webhook, message: Message, env: Mapping[str, str]) -> None:
    headers = {k: resolve_env(v, env) for k, v in channel.headers.items()}
    _post(resolve_env(channel.url, env), message.as_json(), channel.timeout, headers)


SENDERS: dict[str, Callable[[Any, Message, Mapping[str, str]], None]] = {
    "slack": send_slack,
    "dingtalk": send_dingtalk,
    "wecom": send_wecom,
    "lark": send_lark,
    "email": send_email,
    "webhook": send_webhook,
}


def deliver(channel: Any, message: Message, env: Mapping[str, str]) -> None:
    """Send one message once, or raise DeliveryError (an unset variable is one too)."""
    try:
        SENDERS[channel.type](channel, message, env)
    except KeyError as exc:  # resolve_env names the unset variables, never values
        raise DeliveryError(str(exc.args[0]) if exc.args else "a variable is unset") from None
