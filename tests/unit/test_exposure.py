"""Every server the project starts binds loopback unless a flag opens it (issue 19)."""

import contextlib
import subprocess

import demo_enterprise
from demo_enterprise.servers import CRMServer, HRServer
from tributary import cli


def test_demo_systems_bind_loopback_by_default_and_the_host_given():
    with HRServer(None, "id", "secret") as hr, CRMServer(None, "key") as crm:
        assert hr._http.server_address[0] == "127.0.0.1"
        assert crm._http.server_address[0] == "127.0.0.1"
    with HRServer(None, "id", "secret", host="0.0.0.0") as hr:
        assert hr._http.server_address[0] == "0.0.0.0"
        assert hr.url.startswith("http://127.0.0.1:")  # clients on this machine still connect


def _demo_dev(monkeypatch, argv: list[str]) -> tuple[list[str], list[str]]:
    hosts: list[str] = []
    commands: list[list[str]] = []

    class Enterprise:
        day = 0

        def __init__(self, *args, **kwargs):
            pass

        @contextlib.contextmanager
        def serve(self, **kwargs):
            hosts.append(kwargs["host"])
            yield {"HR_BASE_URL": "h", "CRM_BASE_URL": "c", "ERP_URL": "e"}

    monkeypatch.setattr(demo_enterprise, "DemoEnterprise", Enterprise)
    monkeypatch.setattr(subprocess, "call", lambda cmd, **kwargs: commands.append(cmd) or 0)
    assert cli.main(["demo", "dev", *argv]) == 0
    [command] = commands
    return hosts, command


def test_demo_dev_binds_the_ui_and_the_systems_to_loopback_unless_opened(monkeypatch):
    hosts, command = _demo_dev(monkeypatch, [])
    assert hosts == ["127.0.0.1"]
    assert command[command.index("-h") + 1] == "127.0.0.1"
    hosts, command = _demo_dev(monkeypatch, ["--host", "0.0.0.0"])
    assert hosts == ["0.0.0.0"]
    assert command[command.index("-h") + 1] == "0.0.0.0"
