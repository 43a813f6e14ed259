"""MemberCare REST API v1 client (DESIGN A2): token auth, drift-proof incremental reads, full PUTs."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import httpx

from crm_membercare.resources import MEMBERCARE, declared, names
from crm_membercare.systems.errors import FieldError, NotFound
from crm_membercare.systems.membercare_paging import ChangeWalker
from crm_membercare.systems.transport import Transport

MC_RESOURCES = names(MEMBERCARE)  # the declared ones (crm_membercare/resources.py)
MAX_PAGE = 500


@dataclass(frozen=True)
class McPage:
    """Records not yielded before in this iteration, and the cursor to store once they are committed.

    `cursor` is the `lastChange` of the page's last record in the server's order; pass it back as
    `seen_through` next time.
    """

    records: list[dict]
    cursor: str | None


class MemberCareClient(Transport):
    system = "MemberCare"
    base_url_setting = "MEMBERCARE_BASE_URL"
    credential = "MemberCare API key"
    max_page = MAX_PAGE

    def __init__(self, base_url: str, api_key: str, *, person_to_impersonate: int = 1, **options: Any) -> None:
        super().__init__(base_url, **options)
        self._api_key = api_key
        self._person = person_to_impersonate
        self._token: str | None = None
        self._token_lock = threading.Lock()

    # --- authentication -------------------------------------------------------------------------------
    def _fetch_token(self) -> str:
        params = {"clientApiKey": self._api_key, "personToImpersonate": self._person}
        return self.request("GET", "/token", params=params, authenticated=False).json()["value"]

    def auth_headers(self) -> dict[str, str]:
        with self._token_lock:
            if self._token is None:
                self._token = self._fetch_token()
            return {"token": self._token}

    def refresh_auth(self, rejected_headers: dict[str, str]) -> bool:
        with self._token_lock:
            # Another thread may have refreshed already; only the holder of the rejected token fetches anew.
            if self._token is None or self._token == rejected_headers.get("token"):
                self._token = self._fetch_token()
            return True

    def parse_error(self, response: httpx.Response) -> tuple[str | None, str, tuple[FieldError, ...]]:
        try:
            body = response.json()
        except ValueError:
            return None, response.reason_phrase, ()
        if isinstance(body, dict) and isinstance(body.get("errors"), list):
            errors = tuple(
                FieldError(str(e.get("field", "")), str(e.get("code", "invalid")), str(e.get("message", "")))
                for e in body["errors"]
                if isinstance(e, dict)
            )
            return "validation_error", "; ".join(f"{e.field}: {e.message}" for e in errors), errors
        code = body.get("error") if isinstance(body, dict) else None
        return code, str(code or response.reason_phrase), ()

    # --- reads ----------------------------------------------------------------------------------------
    def iter_changes(
        self, resource: str, seen_through: str | None = None, *, page_size: int = MAX_PAGE,
        id_field: str | None = None,
    ) -> Iterator[McPage]:
        """Every record changed at or after the second `seen_through`, each (id, lastChange) once; `id_field`
        names the id (by default the declared resource's, crm_membercare/resources.py).

        Loses nothing under page drift, exclusive `changedAfter`, second precision and the repeated autumn
        hour; see `membercare_paging.ChangeWalker` for how.
        """

        def fetch(changed_after: str | None, page: int) -> dict:
            params = {"changedAfter": changed_after, "page": page, "pageSize": page_size}
            return self.get_json(f"/{resource}", params=params)

        id_field = id_field or declared(MEMBERCARE, resource).id_field
        for records, cursor in ChangeWalker(fetch, id_field=id_field).walk(seen_through):
            yield McPage(records, cursor)

    def list_ids(self, resource: str) -> list:
        return self.request("GET", f"/{resource}/ids").json()["result"]

    def list_ids_body(self, resource: str) -> bytes:
        """`/ids` as the bytes the server sent (an unchanged answer can be recognised without parsing it)."""
        return self.request("GET", f"/{resource}/ids").content

    def get(self, resource: str, record_id: int | str) -> dict:
        return self.request("GET", f"/{resource}/{record_id}").json()

    def find(self, resource: str, record_id: int | str) -> dict | None:
        try:
            return self.get(resource, record_id)
        except NotFound:
            return None

    def find_by_external_id(self, resource: str, external_id: str) -> dict | None:
        params = {"externalId": external_id, "page": 1, "pageSize": 2}
        result = self.request("GET", f"/{resource}", params=params).json()["result"]
        return result[0] if result else None

    def countries(self) -> list[dict]:
        return self.request("GET", "/addresses/countries").json()["result"]

    # --- writes ---------------------------------------------------------------------------------------
    def create(self, resource: str, body: dict) -> dict:
        """POST. Raises `OutcomeUnknown` when it may have happened: look up by `externalId` first."""
        return self.request("POST", f"/{resource}", json=body).json()

    def replace(self, resource: str, record_id: int | str, body: dict) -> dict:
        """PUT a full record: every writable field left out is reset by the server."""
        return self.request("PUT", f"/{resource}/{record_id}", json=body).json()

    def delete(self, resource: str, record_id: int | str) -> None:
        """Close a debtor, hard-delete a product or a draft invoice."""
        self.request("DELETE", f"/{resource}/{record_id}")

    def credit(self, invoice_id: int) -> dict:
        return self.request("POST", f"/invoices/{invoice_id}/credit").json()

