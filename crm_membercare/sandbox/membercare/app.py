"""The MemberCare sandbox server: DESIGN A2 and A3 over HTTP, plus the shared `/_sandbox` admin API."""

from __future__ import annotations

import json
import secrets
from collections.abc import Callable, Mapping
from datetime import timedelta
from pathlib import Path
from typing import Annotated, Any

from fastapi import APIRouter, Depends, FastAPI, Request, Response
from fastapi.exception_handlers import http_exception_handler
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException

from crm_membercare.sandbox.admin import admin_router
from crm_membercare.sandbox.clock import SandboxClock
from crm_membercare.sandbox.countries import COUNTRIES
from crm_membercare.sandbox.faults import FaultInjector, install_fault_middleware
from crm_membercare.sandbox.membercare.errors import ApiError, FieldError, ValidationFailed, not_found
from crm_membercare.sandbox.membercare.oslo_time import epoch_seconds, render_local
from crm_membercare.sandbox.membercare.paging import envelope, parse_list_query
from crm_membercare.sandbox.membercare.records import Records
from crm_membercare.sandbox.membercare.store import DEBTOR_RESOURCES, RESOURCES, MemberCareStore
from crm_membercare.sandbox.membercare.tokens import TokenRegistry
from crm_membercare.sandbox.membercare.validation import FIELD_READERS, Lookup

DEFAULT_API_KEY = "sandbox-membercare-key"


def create_app(
    db_path: Path,
    *,
    api_key: str = DEFAULT_API_KEY,
    clock: SandboxClock | None = None,
    fault_seed: int | None = None,
    extra_resources: Mapping[str, Callable[[dict, Lookup], dict]] | None = None,
) -> FastAPI:
    """The app over a store at `db_path`. `extra_resources` (resource -> a function reading its writable fields
    from a body, like validation.product_fields) adds plain resources beside DESIGN A2's: integer `id`s, listed
    and paged like the others, deleted for good: how a test gives a new flow a MemberCare side."""
    extra = dict(extra_resources or {})
    if set(extra) & set(RESOURCES):
        raise ValueError(f"resources already defined: {', '.join(sorted(set(extra) & set(RESOURCES)))}")
    clock = clock or SandboxClock()
    store = MemberCareStore(Path(db_path), clock, (*RESOURCES, *extra))
    injector = FaultInjector(fault_seed)
    tokens = TokenRegistry()
    app = FastAPI(title="MemberCare sandbox", version="1")
    app.state.store, app.state.injector, app.state.clock = store, injector, clock
    install_fault_middleware(app, injector, error_body=lambda code: {"error": code})
    _install_error_handlers(app)
    app.include_router(_token_router(api_key, tokens, injector, clock))
    app.include_router(_api_router(Records(store, {**FIELD_READERS, **extra}), tokens))
    app.include_router(admin_router(store, injector, clock))
    return app


def _token_router(api_key: str, tokens: TokenRegistry, injector: FaultInjector, clock: SandboxClock) -> APIRouter:
    router = APIRouter(prefix="/api/v1")

    @router.get("/token")
    def token(request: Request) -> dict[str, Any]:
        """The lifetime is the fault settings' `token_ttl_s` at issue time."""
        given = request.query_params.get("clientApiKey", "")
        if not secrets.compare_digest(given.encode(), api_key.encode()):
            raise ApiError(401, "invalid_api_key")
        impersonate = request.query_params.get("personToImpersonate", "1")
        if not impersonate.isdigit():
            raise ValidationFailed([
                FieldError("personToImpersonate", "invalid_type", "personToImpersonate must be a whole number")
            ])
        ttl_s = injector.settings.token_ttl_s
        expiration = epoch_seconds(clock.now() + timedelta(seconds=ttl_s))
        return {"value": tokens.issue(ttl_s), "expiration": render_local(expiration)}

    return router


def _api_router(records: Records, tokens: TokenRegistry) -> APIRouter:
    def require_token(request: Request) -> None:
        problem = tokens.problem(request.headers.get("token"))
        if problem:
            raise ApiError(401, problem)

    router = APIRouter(prefix="/api/v1", dependencies=[Depends(require_token)])
    store = records.store

    @router.get("/addresses/countries")
    def countries() -> dict[str, Any]:
        return {"result": [{"id": cid, "name": name, "iso2Letter": iso2} for cid, name, iso2 in COUNTRIES]}

    @router.get("/{resource}")
    def list_records(resource: str, request: Request) -> dict[str, Any]:
        query = parse_list_query(request.query_params)
        total, result = store.page(
            _known(resource, store.resources), query.changed_after, query.external_id, query.offset,
            query.page_size
        )
        return envelope(request.url, query, total, result)

    @router.get("/{resource}/ids")
    def ids(resource: str) -> JSONResponse:
        keys = store.ids(_known(resource, store.resources))
        # Rendered as it is: FastAPI's encoder would visit each of a million ids in Python first.
        return JSONResponse({"result": [str(key) for key in keys] if resource in DEBTOR_RESOURCES else keys})

    @router.get("/{resource}/{key}")
    def get_record(resource: str, key: str) -> dict[str, Any]:
        return records.get(_known(resource, store.resources), _key(key))

    @router.post("/{resource}", status_code=201)
    def create_record(resource: str, body: JsonBody) -> dict[str, Any]:
        return records.create(_known(resource, store.resources), body)

    @router.put("/{resource}/{key}")
    def replace_record(resource: str, key: str, body: JsonBody) -> dict[str, Any]:
        return records.replace(_known(resource, store.resources), _key(key), body)

    @router.delete("/{resource}/{key}", status_code=204)
    def delete_record(resource: str, key: str) -> Response:
        records.delete(_known(resource, store.resources), _key(key))
        return Response(status_code=204)

    @router.post("/invoices/{key}/credit")
    def credit_invoice(key: str) -> dict[str, Any]:
        return records.credit(_key(key))

    return router


def _known(resource: str, resources: tuple[str, ...]) -> str:
    if resource not in resources:
        raise not_found()
    return resource


def _key(text: str) -> int:
    """Ids in paths are digit strings (debtor numbers, ids); anything else names no record."""
    if not text.isascii() or not text.isdigit():
        raise not_found()
    return int(text)


def _reject_constant(name: str) -> Any:
    raise ValueError(f"{name} is not JSON")


async def _json_body(request: Request) -> Any:
    raw = await request.body()
    try:
        return json.loads(raw, parse_constant=_reject_constant)
    except (ValueError, UnicodeDecodeError) as error:
        raise ValidationFailed([FieldError("body", "malformed_json", f"the body is not JSON: {error}")], 400) from None


JsonBody = Annotated[Any, Depends(_json_body)]


def _install_error_handlers(app: FastAPI) -> None:
    @app.exception_handler(ApiError)
    async def api_error(request: Request, error: ApiError) -> JSONResponse:
        return JSONResponse({"error": error.code}, status_code=error.status)

    @app.exception_handler(ValidationFailed)
    async def validation_failed(request: Request, error: ValidationFailed) -> JSONResponse:
        return JSONResponse(error.body(), status_code=error.status)

    @app.exception_handler(StarletteHTTPException)
    async def http_error(request: Request, error: StarletteHTTPException) -> Response:
        """Unknown routes and methods under /api/v1 answer in MemberCare's shape; /_sandbox keeps FastAPI's."""
        if not request.url.path.startswith("/api/v1"):
            return await http_exception_handler(request, error)
        code = {404: "not_found", 405: "method_not_allowed"}.get(error.status_code, "http_error")
        return JSONResponse({"error": code}, status_code=error.status_code)
