"""What the bad-input and security tests share: each system's API as a *user* of that system meets it.

The sync's own clients are not used to write test data: a user (or another integration) talks plain HTTP to
CustomCRM or MemberCare, so these helpers do too. A write the system refuses is what the catalogue calls
"refused at the source" — such a value can never reach the sync — and `refuses` asserts exactly that.
"""

from __future__ import annotations

from typing import Any

import httpx

from crm_membercare.sandbox.serving import RunningServer

REFUSALS = (400, 409, 422)


class UserApi:
    """One system's REST API over plain httpx, with the credential a user of it would hold."""

    def __init__(self, http: httpx.Client) -> None:
        self.http = http

    def close(self) -> None:
        self.http.close()

    def _ok(self, response: httpx.Response) -> Any:
        assert response.status_code < 300, f"{response.request.method} {response.request.url.path}: " \
                                            f"{response.status_code} {response.text[:300]}"
        return response.json() if response.content else None

    def get(self, resource: str, record_id: Any) -> dict:
        return self._ok(self.http.get(f"/{resource}/{record_id}"))

    def create(self, resource: str, body: dict) -> dict:
        return self._ok(self.http.post(f"/{resource}", json=body))

    def delete(self, resource: str, record_id: Any) -> None:
        self._ok(self.http.delete(f"/{resource}/{record_id}"))

    def refuses(self, method: str, path: str, body: Any) -> int:
        """Send a write the system must refuse (a 4xx naming the input); return its status.

        A `str` body is sent as raw JSON text, for what a JSON encoder would not produce (a lone surrogate)."""
        if isinstance(body, str):
            response = self.http.request(method, path, content=body.encode(),
                                         headers={"Content-Type": "application/json"})
        else:
            response = self.http.request(method, path, json=body)
        assert response.status_code in REFUSALS, f"{method} {path} accepted: {response.status_code}"
        return response.status_code


class CrmUser(UserApi):
    def __init__(self, server: RunningServer, token: str) -> None:
        super().__init__(httpx.Client(base_url=server.api_url, headers={"Authorization": f"Bearer {token}"},
                                      timeout=120))

    def update(self, resource: str, record_id: int, changes: dict) -> dict:
        return self._ok(self.http.patch(f"/{resource}/{record_id}", json=changes))


class McUser(UserApi):
    def __init__(self, server: RunningServer, api_key: str) -> None:
        http = httpx.Client(base_url=server.api_url, timeout=120)
        token = http.get("/token", params={"clientApiKey": api_key}).raise_for_status().json()["value"]
        http.headers["token"] = token
        super().__init__(http)

    def update(self, resource: str, record_id: Any, changes: dict) -> dict:
        """What MemberCare's own UI does for an edit: read the record, PUT it back with the change."""
        return self._ok(self.http.put(f"/{resource}/{record_id}", json={**self.get(resource, record_id),
                                                                         **changes}))
