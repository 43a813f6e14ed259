"""Browser to loopback (issue 12, item 8; DESIGN Part E "Security"): the sandboxes' `/_sandbox/*` admin API has
no credential, so a web page must not be able to drive it — not through DNS rebinding (a `Host` that is not a
loopback name), not cross-site (an `Origin` that is not the server's own), not with a form or `text/plain` body
(a POST or PUT must be `application/json`). The project's own callers (httpx JSON to 127.0.0.1) still work.
"""

from __future__ import annotations

from collections.abc import Iterator

import httpx
import pytest

from crm_membercare.sandbox.serving import RunningServer, serve_in_thread

CRM_AUTH = {"Authorization": "Bearer sandbox-crm-token"}
EVIL = {"Host": "evil.example", "Origin": "http://evil.example", "Content-Type": "text/plain"}


@pytest.fixture(scope="module")
def servers(tmp_path_factory) -> Iterator[dict[str, RunningServer]]:
    """Both sandboxes, shared by the file's tests (nothing here is accepted that could change them unasked)."""
    from crm_membercare.sandbox.customcrm.app import create_app as customcrm_app
    from crm_membercare.sandbox.membercare.app import create_app as membercare_app

    root = tmp_path_factory.mktemp("admin-guard")
    running = {"customcrm": serve_in_thread(customcrm_app(root / "customcrm.sqlite")),
               "membercare": serve_in_thread(membercare_app(root / "membercare.sqlite"))}
    yield running
    for server in running.values():
        server.stop()


@pytest.fixture(params=["customcrm", "membercare"])
def sandbox(request, servers) -> RunningServer:
    return servers[request.param]


def _records(server: RunningServer) -> int:
    """How many customers or products the sandbox holds, read through its API as a user would."""
    with httpx.Client(base_url=server.api_url, timeout=30) as api:
        crm = api.get("/customers", headers=CRM_AUTH)
        if crm.status_code == 200:
            return len(crm.json()["data"])
        token = api.get("/token", params={"clientApiKey": "sandbox-membercare-key"}).json()["value"]
        return len(api.get("/products/ids", headers={"token": token}).json()["result"])


def _seed(server: RunningServer) -> None:
    body = {"seed": 3, "scale": {"customers": 2, "products": 2, "users": 1, "companies": 2, "persons": 1,
                                 "contacts": 1}}
    response = httpx.post(f"{server.root_url}/_sandbox/seed", json=body, timeout=60)
    assert response.status_code == 200, response.text


HTTP = httpx.Client(timeout=30)  # one pool for the file's few hundred requests


def _admin(server: RunningServer, method: str, path: str, *, headers: dict[str, str],
           content: bytes | None = None) -> httpx.Response:
    return HTTP.request(method, f"{server.root_url}/_sandbox{path}", headers=headers, content=content)


def test_a_rebinding_cross_site_text_plain_reset_is_refused_and_empties_nothing(sandbox) -> None:
    _seed(sandbox)
    before = _records(sandbox)
    assert before > 0
    response = _admin(sandbox, "POST", "/reset", headers=EVIL, content=b'{"x": 1}')
    assert response.status_code in (403, 415)
    assert "detail" in response.json()
    assert _records(sandbox) == before


ADMIN_CALLS = [("GET", "/faults"), ("GET", "/stats"), ("DELETE", "/stats"), ("POST", "/reset"),
               ("POST", "/seed"), ("PUT", "/faults"), ("PUT", "/clock")]


def _answers(sandbox: RunningServer, variants: list[str], header: str, extra: dict[str, str]) -> dict:
    """Each admin call with each variant of `header`: (call, variant) -> (status, detail)."""
    answers = {}
    for method, path in ADMIN_CALLS:
        for variant in variants:
            headers = {**extra, header: variant.format(port=sandbox.port)}
            response = _admin(sandbox, method, path, headers=headers, content=b"{}")
            answers[(method, path, variant)] = (response.status_code, response.json().get("detail", ""))
    return answers


def test_a_host_that_is_not_a_loopback_name_is_refused(sandbox) -> None:
    hosts = ["evil.example", "evil.example:{port}", "127.0.0.1.evil.example:{port}", "localhost.evil.example",
             "10.0.0.5:{port}", "0.0.0.0:{port}", "127.0.0.1:bad", "", "[::1", "127.0.0.1@evil.example"]
    answers = _answers(sandbox, hosts, "Host", {"Content-Type": "application/json"})
    assert {key: answer for key, answer in answers.items() if answer[0] != 403 or "Host" not in answer[1]} == {}


def test_a_request_from_another_origin_is_refused(sandbox) -> None:
    origins = ["http://evil.example", "null", "http://127.0.0.1:1", "https://127.0.0.1:{port}",
               "http://localhost.evil.example:{port}", "http://evil.example:{port}", "file://", "http://[::1]:1",
               "http://127.0.0.1:{port}/path", ""]
    answers = _answers(sandbox, origins, "Origin", {"Content-Type": "application/json"})
    assert {key: answer for key, answer in answers.items() if answer[0] != 403 or "Origin" not in answer[1]} == {}


def test_a_post_or_put_that_is_not_json_is_refused(sandbox) -> None:
    answers = {}
    for method, path in [call for call in ADMIN_CALLS if call[0] in ("POST", "PUT")]:
        for content_type in (None, "text/plain", "application/x-www-form-urlencoded",
                             "multipart/form-data; boundary=x", "application/jsonx", "text/json"):
            headers = {"Content-Type": content_type} if content_type else {}
            body = b'{"error_rate": 1.0, "seed": 1}' if content_type else None
            response = _admin(sandbox, method, path, headers=headers, content=body)
            answers[(method, path, content_type)] = (response.status_code, response.json()["detail"])
    refused = {key: answer for key, answer in answers.items()
               if answer[0] != 415 or "application/json" not in answer[1]}
    assert refused == {}
    assert httpx.get(f"{sandbox.root_url}/_sandbox/faults").json()["error_rate"] == 0.0


def test_loopback_names_and_the_server_s_own_origin_are_served(sandbox) -> None:
    for host in ("127.0.0.1:{port}", "localhost:{port}", "LOCALHOST:{port}", "[::1]:{port}", "127.0.0.1",
                 "localhost"):
        response = _admin(sandbox, "GET", "/faults", headers={"Host": host.format(port=sandbox.port)})
        assert response.status_code == 200, (host, response.text)
    for origin in ("http://127.0.0.1:{port}", "http://localhost:{port}", "http://[::1]:{port}"):
        headers = {"Origin": origin.format(port=sandbox.port), "Content-Type": "application/json; charset=utf-8"}
        response = _admin(sandbox, "PUT", "/faults", headers=headers, content=b'{"latency_ms": 0}')
        assert response.status_code == 200, (origin, response.text)


def test_the_project_s_own_callers_still_work(sandbox) -> None:
    """httpx with `json=` to 127.0.0.1, as the CLI, the tests, the bench and the chaos runs call it."""
    with httpx.Client(base_url=f"{sandbox.root_url}/_sandbox", timeout=60) as admin:
        _seed(sandbox)
        assert admin.put("/faults", json={"latency_ms": 0}).status_code == 200
        assert admin.put("/clock", json={"now": None}).status_code == 200
        assert admin.get("/stats").status_code == 200 and admin.delete("/stats").status_code == 204
        assert admin.post("/reset", json={}).status_code == 200
    assert _records(sandbox) == 0


def test_the_system_api_is_not_affected_by_the_admin_checks(servers) -> None:
    """A real deployment's API is reached by name; only `/_sandbox/*` insists on loopback."""
    response = httpx.get(f"{servers['customcrm'].api_url}/customers",
                         headers={**CRM_AUTH, "Host": "crm.example.com", "Origin": "http://crm.example.com"})
    assert response.status_code == 200
