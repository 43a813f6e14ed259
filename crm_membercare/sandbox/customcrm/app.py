"""The CustomCRM sandbox as a FastAPI app: DESIGN A1 under /api/v1, the admin API under /_sandbox."""

from __future__ import annotations

import hmac
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Annotated, Any

from fastapi import APIRouter, Body, Depends, FastAPI, Header, Query, Request
from fastapi.responses import JSONResponse, Response

from crm_membercare.sandbox.admin import admin_router
from crm_membercare.sandbox.clock import SandboxClock
from crm_membercare.sandbox.customcrm.errors import CrmError, FieldProblem, ValidationFailed
from crm_membercare.sandbox.customcrm.fields import Field, with_extra
from crm_membercare.sandbox.customcrm.service import CrmService, ListQuery
from crm_membercare.sandbox.customcrm.store import CustomCrmStore
from crm_membercare.sandbox.customcrm.timestamps import since_ms
from crm_membercare.sandbox.faults import FaultInjector, install_fault_middleware

DEFAULT_TOKEN = "sandbox-crm-token"
API_PREFIX = "/api/v1"


def create_app(
    db_path: Path, *, token: str = DEFAULT_TOKEN, clock: SandboxClock | None = None, fault_seed: int | None = None,
    extra_resources: Mapping[str, Mapping[str, Field]] | None = None,
) -> FastAPI:
    """The app over a store at `db_path`. `extra_resources` (resource -> its writable fields, as in fields.py)
    adds plain resources beside DESIGN A1's, served like them: how a test gives a new flow a CRM side."""
    clock = clock or SandboxClock()
    fields = with_extra(extra_resources)
    store = CustomCrmStore(db_path, clock, tuple(fields))
    injector = FaultInjector(fault_seed)
    service = CrmService(store, fields)

    app = FastAPI(title="CustomCRM sandbox", version="1")
    app.state.store = store
    app.state.injector = injector
    app.state.clock = clock
    app.state.service = service
    install_fault_middleware(app, injector, error_body=lambda code: {"detail": code})
    _install_error_handlers(app)
    app.include_router(admin_router(store, injector, clock))

    api = APIRouter(prefix=API_PREFIX, dependencies=[Depends(_bearer(token))])
    for resource in fields:
        _add_resource_routes(api, resource, service)
    app.include_router(api)
    return app


def _bearer(token: str) -> Callable[..., None]:
    expected = f"Bearer {token}".encode()

    def require_token(authorization: Annotated[str | None, Header()] = None) -> None:
        if authorization is None or not hmac.compare_digest(authorization.encode(), expected):
            raise CrmError(401, "missing or invalid bearer token")

    return require_token


def _install_error_handlers(app: FastAPI) -> None:
    @app.exception_handler(CrmError)
    async def crm_error(_: Request, error: CrmError) -> JSONResponse:
        headers = {"WWW-Authenticate": "Bearer"} if error.status == 401 else None
        return JSONResponse({"detail": error.detail}, status_code=error.status, headers=headers)

    @app.exception_handler(ValidationFailed)
    async def validation_failed(_: Request, error: ValidationFailed) -> JSONResponse:
        return JSONResponse(error.body(), status_code=422)


def _record_response(record: dict, status_code: int = 200, location: str | None = None) -> JSONResponse:
    headers = {"ETag": f'"{record["version"]}"'}
    if location:
        headers["Location"] = location
    return JSONResponse(record, status_code=status_code, headers=headers)


def _parse_since(updated_since: str | None) -> int | None:
    if updated_since is None:
        return None
    try:
        return since_ms(updated_since)
    except ValueError as error:
        message = f"must be an RFC 3339 instant with Z or an offset ({error})"
        raise ValidationFailed([FieldProblem(("query", "updated_since"), message, "datetime_parsing")]) from error


def _add_resource_routes(api: APIRouter, resource: str, service: CrmService) -> None:
    path = f"/{resource}"

    @api.get(path, name=f"list {resource}")
    def list_records(
        updated_since: str | None = None,
        include_archived: bool = False,
        external_ref: str | None = None,
        limit: Annotated[int, Query(ge=1, le=1000)] = 100,
        cursor: str | None = None,
    ) -> JSONResponse:
        query = ListQuery(_parse_since(updated_since), cursor, include_archived, external_ref, limit)
        page = service.list(resource, query)
        return JSONResponse({"data": page.data, "next_cursor": page.next_cursor})

    @api.get(f"{path}/{{record_id}}", name=f"get {resource}")
    def get_record(record_id: int) -> JSONResponse:
        return _record_response(service.get(resource, record_id))

    @api.post(path, status_code=201, name=f"create {resource}")
    def create_record(body: Annotated[Any, Body()]) -> JSONResponse:
        record = service.create(resource, body)
        return _record_response(record, 201, f"{API_PREFIX}{path}/{record['id']}")

    @api.patch(f"{path}/{{record_id}}", name=f"update {resource}")
    def update_record(
        record_id: int, body: Annotated[Any, Body()], if_match: Annotated[str | None, Header()] = None
    ) -> JSONResponse:
        return _record_response(service.update(resource, record_id, body, if_match))

    @api.delete(f"{path}/{{record_id}}", status_code=204, name=f"archive {resource}")
    def archive_record(record_id: int) -> Response:
        service.archive(resource, record_id)
        return Response(status_code=204)
