"""CustomCRM REST API v1 client (DESIGN A1): bearer token, keyset pages, If-Match updates."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import httpx

from crm_membercare.resources import CRM, names
from crm_membercare.systems.errors import FieldError, NotFound
from crm_membercare.systems.transport import Transport

CRM_RESOURCES = names(CRM)  # the declared ones (crm_membercare/resources.py)
MAX_PAGE = 1000


@dataclass(frozen=True)
class CrmPage:
    """One page of changed records and the cursor to store once they are committed.

    `cursor` is the `updated_at` of the page's last record; `updated_since` is inclusive, so passing it back
    re-reads that instant's records (an overlap the caller de-duplicates by id and version).
    """

    records: list[dict]
    cursor: str | None


class CustomCrmClient(Transport):
    system = "CustomCRM"
    base_url_setting = "CUSTOMCRM_BASE_URL"
    credential = "CustomCRM token"
    max_page = MAX_PAGE

    def __init__(self, base_url: str, token: str, **options: Any) -> None:
        super().__init__(base_url, **options)
        self._token = token

    def auth_headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self._token}"}

    def parse_error(self, response: httpx.Response) -> tuple[str | None, str, tuple[FieldError, ...]]:
        try:
            detail = response.json().get("detail")
        except ValueError:
            return None, response.reason_phrase, ()
        if isinstance(detail, list):
            errors = tuple(
                FieldError(
                    field=".".join(str(part) for part in item.get("loc", ()) if part != "body"),
                    code=str(item.get("type", "invalid")),
                    message=str(item.get("msg", "")),
                )
                for item in detail
                if isinstance(item, dict)
            )
            return "validation_error", "; ".join(f"{e.field}: {e.message}" for e in errors), errors
        return (detail if isinstance(detail, str) else None), str(detail or response.reason_phrase), ()

    # --- reads ----------------------------------------------------------------------------------------
    def iter_changes(
        self, resource: str, updated_since: str | None = None, *, page_size: int = MAX_PAGE, id_field: str = "id"
    ) -> Iterator[CrmPage]:
        """Every record (archived included) with `updated_at >= updated_since`, oldest first, page by page.

        The keyset cursor is stable under concurrent writes: a record updated during the iteration moves
        past the cursor and comes again at its new version. Each (id, version) is yielded once. (`id_field`:
        every CustomCRM resource's is `id`; taken for symmetry with MemberCare's client.)
        """
        seen: set[tuple[int, int]] = set()
        cursor: str | None = None
        params = {"updated_since": updated_since, "include_archived": "true", "limit": page_size}
        while True:
            body = self.get_json(f"/{resource}", params={**params, "cursor": cursor})
            fresh = [r for r in body["data"] if (r[id_field], r["version"]) not in seen]
            seen.update((r[id_field], r["version"]) for r in fresh)
            if body["data"]:
                yield CrmPage(fresh, body["data"][-1]["updated_at"])
            cursor = body.get("next_cursor")
            if not cursor:
                return

    def get(self, resource: str, record_id: int) -> dict:
        return self.request("GET", f"/{resource}/{record_id}").json()

    def find(self, resource: str, record_id: int) -> dict | None:
        try:
            return self.get(resource, record_id)
        except NotFound:
            return None

    def find_by_external_ref(self, resource: str, external_ref: str) -> dict | None:
        """The record carrying `external_ref` (archived included), or None."""
        params = {"external_ref": external_ref, "include_archived": "true", "limit": 2}
        data = self.request("GET", f"/{resource}", params=params).json()["data"]
        return data[0] if data else None

    # --- writes ---------------------------------------------------------------------------------------
    def create(self, resource: str, body: dict) -> dict:
        """POST. Raises `OutcomeUnknown` when it may have happened: look up by `external_ref` first."""
        return self.request("POST", f"/{resource}", json=body).json()

    def update(self, resource: str, record_id: int, changes: dict, *, if_match: int | None = None) -> dict:
        """PATCH the given fields; with `if_match`, a stale version raises `PreconditionFailed`."""
        headers = {"If-Match": str(if_match)} if if_match is not None else None
        return self.request("PATCH", f"/{resource}/{record_id}", json=changes, headers=headers).json()

    def archive(self, resource: str, record_id: int) -> None:
        self.request("DELETE", f"/{resource}/{record_id}")
