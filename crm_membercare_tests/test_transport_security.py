"""Credentials never cross a network in clear (issue 12, item 6; DESIGN A0, Part E "Security").

A base URL that is plain `http://` to anything but a loopback address is refused when a client is made, before
any name is resolved or any connection opened, with one line naming the setting; `https://` and loopback pass;
`CRM_MEMBERCARE_ALLOW_INSECURE_HTTP=1` lets it through with a warning every time a client is made. The CLI says
it in one line and touches no state; the Dagster resources refuse the same way.
"""

from __future__ import annotations

import logging
import socket
import time
from collections.abc import Iterator

import pytest

from crm_membercare.sandbox.serving import RunningServer, serve_in_thread
from crm_membercare.systems import CustomCrmClient, InsecureBaseUrl, MemberCareClient
from crm_membercare.systems.base_url import ALLOW_INSECURE
from crm_membercare_tests.engine_support import CRM_TOKEN, MC_API_KEY
from crm_membercare_tests.process_support import cli

SECRET = "s3cret-credential-value"
CLIENTS = {"CUSTOMCRM_BASE_URL": CustomCrmClient, "MEMBERCARE_BASE_URL": MemberCareClient}
REFUSED = ("http://crm.example.com/api/v1", "http://198.51.100.7:8101/api/v1", "http://127.0.0.1.nip.io/api/v1",
           "http://0.0.0.0:8101/api/v1", "HTTP://10.0.0.5/api/v1", "http://[fe80::1]:8101/api/v1",
           "http://user:pw@crm.example.com/api/v1", "ftp://127.0.0.1/api/v1", "crm.example.com/api/v1")
ACCEPTED = ("http://127.0.0.1:8101/api/v1", "http://127.9.8.7/api/v1", "http://localhost:8102/api/v1",
            "http://LOCALHOST/api/v1", "http://[::1]:8101/api/v1", "https://crm.example.com/api/v1",
            "https://198.51.100.7/api/v1")


@pytest.fixture
def network_calls(monkeypatch) -> list[tuple]:
    """Every name lookup and connection this process attempts (passed through to the real socket calls)."""
    calls: list[tuple] = []
    real_getaddrinfo, real_connect = socket.getaddrinfo, socket.socket.connect

    def getaddrinfo(host, *args, **kwargs):
        calls.append(("getaddrinfo", host))
        return real_getaddrinfo(host, *args, **kwargs)

    def connect(sock, address):
        calls.append(("connect", address))
        return real_connect(sock, address)

    monkeypatch.setattr(socket, "getaddrinfo", getaddrinfo)
    monkeypatch.setattr(socket.socket, "connect", connect)
    return calls


@pytest.mark.parametrize("url", REFUSED)
@pytest.mark.parametrize("setting", list(CLIENTS))
def test_plain_http_to_a_host_that_is_not_loopback_is_refused_before_anything_is_sent(
        setting, url, network_calls, monkeypatch) -> None:
    monkeypatch.delenv(ALLOW_INSECURE, raising=False)
    with pytest.raises(InsecureBaseUrl) as refused:
        CLIENTS[setting](url, SECRET)
    message = str(refused.value)
    assert setting in message and "\n" not in message and SECRET not in message and "pw" not in message
    assert "in clear" in message or "https://" in message
    assert network_calls == []


@pytest.mark.parametrize("url", ACCEPTED)
@pytest.mark.parametrize("setting", list(CLIENTS))
def test_https_and_loopback_addresses_are_accepted(setting, url, network_calls, monkeypatch) -> None:
    monkeypatch.delenv(ALLOW_INSECURE, raising=False)
    CLIENTS[setting](url, SECRET).close()
    assert network_calls == []  # making a client sends nothing either


def test_a_loopback_url_by_name_reaches_the_sandbox(customcrm_server: RunningServer) -> None:
    with CustomCrmClient(f"http://localhost:{customcrm_server.port}/api/v1", CRM_TOKEN) as crm:
        assert crm.find("contacts", 1) is None


@pytest.mark.parametrize("value", ["0", "true", "yes", ""])
def test_only_the_value_1_overrides(value, monkeypatch) -> None:
    monkeypatch.setenv(ALLOW_INSECURE, value)
    with pytest.raises(InsecureBaseUrl):
        MemberCareClient("http://mc.example.com/api/v1", SECRET)


@pytest.fixture
def sandboxes_by_host_name(tmp_path) -> Iterator[tuple[str, RunningServer, RunningServer]]:
    """Both sandboxes reached through the machine's own host name: not a loopback *name*, whatever it
    resolves to (the servers bind that address)."""
    from crm_membercare.sandbox.customcrm.app import create_app as customcrm_app
    from crm_membercare.sandbox.membercare.app import create_app as membercare_app

    name = socket.gethostname()
    try:
        address = socket.getaddrinfo(name, None, socket.AF_INET)[0][4][0]
    except OSError:
        pytest.skip(f"the host name {name!r} does not resolve here")
    if name.lower() == "localhost":
        pytest.skip("the host name is localhost")
    crm = serve_in_thread(customcrm_app(tmp_path / "customcrm.sqlite"), host=address)
    mc = serve_in_thread(membercare_app(tmp_path / "membercare.sqlite"), host=address)
    yield name, crm, mc
    crm.stop()
    mc.stop()


def test_the_override_lets_plain_http_through_with_a_warning_every_time(
        sandboxes_by_host_name, monkeypatch, caplog) -> None:
    name, crm_server, mc_server = sandboxes_by_host_name
    monkeypatch.setenv(ALLOW_INSECURE, "1")
    url = f"http://{name}:{mc_server.port}/api/v1"
    with caplog.at_level(logging.WARNING, logger="crm_membercare.systems"):
        for _ in range(2):
            with MemberCareClient(url, MC_API_KEY) as mc:
                assert mc.list_ids("persons") == []
    warnings = [r.getMessage() for r in caplog.records if r.name == "crm_membercare.systems"]
    assert len(warnings) == 2, warnings
    assert all("MEMBERCARE_BASE_URL" in w and ALLOW_INSECURE in w and MC_API_KEY not in w for w in warnings)


def test_the_cli_refuses_in_one_line_and_touches_no_state(tmp_path) -> None:
    env = {"CUSTOMCRM_BASE_URL": "http://198.51.100.7:8101/api/v1", "CUSTOMCRM_TOKEN": SECRET,
           "CRM_MEMBERCARE_DB": str(tmp_path / "state.duckdb"), ALLOW_INSECURE: ""}
    started = time.monotonic()
    run = cli("sync", "--once", env=env)
    assert run.returncode == 2 and run.stdout == ""
    assert len(run.stderr.strip().splitlines()) == 1, run.stderr
    assert "CUSTOMCRM_BASE_URL is refused" in run.stderr and SECRET not in run.stderr
    assert time.monotonic() - started < 30  # no connect timeout was waited for
    assert list(tmp_path.iterdir()) == []


def test_the_cli_with_the_override_syncs_and_warns(sandboxes_by_host_name, tmp_path) -> None:
    name, crm_server, mc_server = sandboxes_by_host_name
    env = {"CUSTOMCRM_BASE_URL": f"http://{name}:{crm_server.port}/api/v1", "CUSTOMCRM_TOKEN": CRM_TOKEN,
           "MEMBERCARE_BASE_URL": f"http://{name}:{mc_server.port}/api/v1", "MEMBERCARE_API_KEY": MC_API_KEY,
           "CRM_MEMBERCARE_DB": str(tmp_path / "state.duckdb"), ALLOW_INSECURE: "1"}
    run = cli("sync", "--once", env=env)
    assert run.returncode == 0, run.stderr
    assert "CUSTOMCRM_BASE_URL is plain http://" in run.stderr and "MEMBERCARE_BASE_URL is plain http://" in run.stderr
    assert CRM_TOKEN not in run.stderr and MC_API_KEY not in run.stderr


def test_the_dagster_resources_refuse_the_same_way(monkeypatch) -> None:
    from crm_membercare.defs.resources import CustomCrmResource, MemberCareResource

    monkeypatch.delenv(ALLOW_INSECURE, raising=False)
    with pytest.raises(InsecureBaseUrl, match="CUSTOMCRM_BASE_URL"):
        CustomCrmResource(base_url="http://crm.example.com/api/v1", token=SECRET).client()
    with pytest.raises(InsecureBaseUrl, match="MEMBERCARE_BASE_URL"):
        MemberCareResource(base_url="http://mc.example.com/api/v1", api_key=SECRET).client()
