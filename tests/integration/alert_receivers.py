"""Local stand-ins for the vendors' alert endpoints, on loopback, strict like the real ones.

One HTTP server answers as Slack, DingTalk, WeCom, Lark/Feishu and a generic webhook would:
it checks the token in the URL, DingTalk's and Lark's signatures (and their timestamps'
age), DingTalk's keyword, and accepts only the documented JSON shapes, answering with each
vendor's own error codes (HTTP 200 with ``errcode``/``code``, as they do). It can be told to
answer 500 or hang for a while, as an outage. An aiosmtpd server with STARTTLS and AUTH
stands in for a mail server.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import socket
import subprocess
import threading
import time
from dataclasses import dataclass, field
from email import message_from_bytes, policy
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import parse_qs, unquote_plus, urlsplit

TOKENS = {
    "dingtalk": "ding-token-5f1e",
    "wecom": "wecom-key-77aa",
    "lark": "lark-hook-93cc",
    "slack": "T000/B000/slack-secret-path",
}
SECRETS = {"dingtalk": "SECding-secret-0a9b8c", "lark": "lark-secret-41d2"}
WEBHOOK_TOKEN = "Bearer incident-tool-token-8e8e"
KEYWORD = "告警"  # the robot's custom keyword ("alert")
_SLACK_KEYS = {"text", "blocks", "attachments", "thread_ts", "mrkdwn"}
_DING_TYPES = {"text": {"content"}, "markdown": {"title", "text"}, "link": {"title", "text"}}


@dataclass
class Vendors:
    """What each endpoint received and accepted (the bodies), and what it refused."""

    received: dict[str, list[dict]] = field(default_factory=dict)
    refused: list[tuple[str, str]] = field(default_factory=list)
    fail: dict[str, int] = field(default_factory=dict)  # vendor -> 500s still to answer
    hang_s: dict[str, float] = field(default_factory=dict)  # vendor -> seconds to stall

    def accepted(self, vendor: str) -> list[dict]:
        return self.received.get(vendor, [])


def _dingtalk(query: dict, body: dict) -> dict:
    if query.get("access_token") != [TOKENS["dingtalk"]]:
        return {"errcode": 300001, "errmsg": "token is not exist"}
    stamp, sign = query.get("timestamp", [""])[0], query.get("sign", [""])[0]
    if not stamp.isdigit() or abs(time.time() * 1000 - int(stamp)) > 3600_000:
        return {"errcode": 310000, "errmsg": "invalid timestamp"}
    secret = SECRETS["dingtalk"]
    expected = base64.b64encode(
        hmac.new(secret.encode(), f"{stamp}\n{secret}".encode(), hashlib.sha256).digest()
    ).decode()
    if unquote_plus(sign) != expected and sign != expected:
        return {"errcode": 310000, "errmsg": "sign not match"}
    kind = body.get("msgtype")
    if kind not in _DING_TYPES or set(body.get(kind) or {}) < _DING_TYPES[kind]:
        return {"errcode": 40035, "errmsg": "缺少参数 json"}
    if KEYWORD not in json.dumps(body[kind], ensure_ascii=False):
        return {"errcode": 310000, "errmsg": "keywords not in content"}
    return {"errcode": 0, "errmsg": "ok"}


def _wecom(query: dict, body: dict) -> dict:
    if query.get("key") != [TOKENS["wecom"]]:
        return {"errcode": 93000, "errmsg": "invalid webhook url"}
    kind = body.get("msgtype")
    part = body.get(kind) if kind in ("text", "markdown") else None
    if not isinstance(part, dict) or not isinstance(part.get("content"), str):
        return {"errcode": 40008, "errmsg": "invalid message type"}
    if len(part["content"].encode()) > 4096:
        return {"errcode": 40058, "errmsg": "content exceed max length 4096"}
    return {"errcode": 0, "errmsg": "ok"}


def _lark(body: dict) -> dict:
    stamp, secret = str(body.get("timestamp", "")), SECRETS["lark"]
    expected = base64.b64encode(
        hmac.new(f"{stamp}\n{secret}".encode(), b"", hashlib.sha256).digest()
    ).decode()
    if not stamp.isdigit() or abs(time.time() - int(stamp)) > 3600:
        return {"code": 19021, "msg": "sign match fail or timestamp is not within one hour"}
    if body.get("sign") != expected:
        return {"code": 19021, "msg": "sign match fail or timestamp is not within one hour"}
    content = body.get("content")
    if body.get("msg_type") != "text" or not isinstance(content, dict) or "text" not in content:
        return {"code": 19002, "msg": "params error, msg_type need"}
    return {"code": 0, "msg": "success", "data": {}}


class _Handler(BaseHTTPRequestHandler):
    vendors: Vendors

    def log_message(self, *args) -> None:  # quiet test output
        pass

    def _answer(self, status: int, payload: dict | str) -> None:
        data = payload.encode() if isinstance(payload, str) else json.dumps(payload).encode()
        self.send_response(status)
        self.send_header(
            "Content-Type", "text/plain" if isinstance(payload, str) else "application/json"
        )
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def do_POST(self) -> None:  # noqa: N802 (http.server's name)
        url = urlsplit(self.path)
        vendor, query = url.path.strip("/").split("/", 1)[0], parse_qs(url.query)
        raw = self.rfile.read(int(self.headers.get("Content-Length", 0)))
        if self.vendors.hang_s.get(vendor):
            time.sleep(self.vendors.hang_s[vendor])
        if self.vendors.fail.get(vendor, 0) > 0:
            self.vendors.fail[vendor] -= 1
            return self._answer(500, "Internal Server Error")
        try:
            body = json.loads(raw)
        except ValueError:
            return self._answer(400, "invalid_payload")
        verdict = self._judge(vendor, url.path, query, body)
        ok = verdict in ("ok",) or (
            isinstance(verdict, dict) and not (verdict.get("errcode") or verdict.get("code"))
        )
        if ok:
            self.vendors.received.setdefault(vendor, []).append(body)
        else:
            self.vendors.refused.append((vendor, json.dumps(verdict, ensure_ascii=False)))
        status = 400 if verdict in ("invalid_payload", "invalid_token", "unauthorized") else 200
        self._answer(status, verdict)

    def _judge(self, vendor: str, path: str, query: dict, body: dict) -> dict | str:
        if vendor == "slack":
            if path != f"/slack/services/{TOKENS['slack']}":
                return "invalid_token"
            if not isinstance(body.get("text"), str) or not set(body) <= _SLACK_KEYS:
                return "invalid_payload"
            return "ok"
        if vendor == "dingtalk":
            return _dingtalk(query, body)
        if vendor == "wecom":
            return _wecom(query, body)
        if vendor == "lark":
            if path != f"/lark/open-apis/bot/v2/hook/{TOKENS['lark']}":
                return {
                    "code": 19001,
                    "msg": "param invalid: incoming webhook access token invalid",
                }
            return _lark(body)
        if self.headers.get("Authorization") != WEBHOOK_TOKEN:
            return "unauthorized"
        return "ok" if {"status", "key", "summary", "text"} <= set(body) else "invalid_payload"


class Receivers:
    """The HTTP stand-ins on a free loopback port; ``env`` points channels at them."""

    def __init__(self) -> None:
        self.vendors = Vendors()
        handler = type("Handler", (_Handler,), {"vendors": self.vendors})
        self.server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def __enter__(self) -> Receivers:
        self.thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self.server.shutdown()
        self.server.server_close()

    @property
    def base(self) -> str:
        return f"http://127.0.0.1:{self.server.server_address[1]}"

    def env(self) -> dict[str, str]:
        return {
            "SLACK_WEBHOOK_URL": f"{self.base}/slack/services/{TOKENS['slack']}",
            "DINGTALK_WEBHOOK_URL": (
                f"{self.base}/dingtalk/robot/send?access_token={TOKENS['dingtalk']}"
            ),
            "DINGTALK_SECRET": SECRETS["dingtalk"],
            "WECOM_WEBHOOK_URL": f"{self.base}/wecom/cgi-bin/webhook/send?key={TOKENS['wecom']}",
            "LARK_WEBHOOK_URL": f"{self.base}/lark/open-apis/bot/v2/hook/{TOKENS['lark']}",
            "LARK_SECRET": SECRETS["lark"],
            "INCIDENT_WEBHOOK_URL": f"{self.base}/webhook/alerts",
            "INCIDENT_WEBHOOK_TOKEN": WEBHOOK_TOKEN,
        }


SMTP_USER, SMTP_PASSWORD = "tributary", "smtp-password-c3c3"


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def self_signed(folder: Path) -> tuple[Path, Path]:
    """A certificate for 127.0.0.1 (the SMTP server's STARTTLS), made with openssl."""
    cert, key = folder / "smtp.crt", folder / "smtp.key"
    subprocess.run(
        ["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1",
         "-subj", "/CN=127.0.0.1", "-addext", "subjectAltName=IP:127.0.0.1",
         "-keyout", str(key), "-out", str(cert)],
        check=True, capture_output=True,
    )  # fmt: skip
    return cert, key


class Mailbox:
    """An SMTP server on loopback that requires STARTTLS, then AUTH, and keeps every mail."""

    def __init__(self, folder: Path) -> None:
        import ssl

        from aiosmtpd.controller import Controller
        from aiosmtpd.smtp import AuthResult

        self.cert, key = self_signed(folder)
        self.mails: list = []
        context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        context.load_cert_chain(self.cert, key)
        mails = self.mails

        class Handler:
            async def handle_DATA(self, server, session, envelope):  # noqa: N802
                mails.append(message_from_bytes(envelope.original_content, policy=policy.default))
                return "250 OK"

        def authenticator(server, session, envelope, mechanism, auth_data):
            good = (
                auth_data.login == SMTP_USER.encode()
                and auth_data.password == SMTP_PASSWORD.encode()
            )
            return AuthResult(success=good)

        self.port = free_port()
        self.controller = Controller(
            Handler(), hostname="127.0.0.1", port=self.port, tls_context=context,
            require_starttls=True, authenticator=authenticator, auth_require_tls=True,
        )  # fmt: skip

    def __enter__(self) -> Mailbox:
        self.controller.start()
        return self

    def __exit__(self, *exc) -> None:
        self.controller.stop()

    def env(self) -> dict[str, str]:
        return {
            "SMTP_HOST": "127.0.0.1",
            "SMTP_USER": SMTP_USER,
            "SMTP_PASSWORD": SMTP_PASSWORD,
        }
