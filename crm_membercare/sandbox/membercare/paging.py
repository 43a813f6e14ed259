"""The list call's query parameters and its paged envelope (`totalCount`, `totalPages`, page URLs, `result`)."""

from __future__ import annotations

import math
from dataclasses import dataclass

from starlette.datastructures import URL, QueryParams

from crm_membercare.sandbox.membercare.errors import FieldError, ValidationFailed
from crm_membercare.sandbox.membercare.oslo_time import changed_after_bound

DEFAULT_PAGE_SIZE = 50
MAX_PAGE_SIZE = 500


@dataclass(frozen=True)
class ListQuery:
    page: int
    page_size: int
    changed_after: int | None  # epoch seconds; records strictly later match
    external_id: str | None

    @property
    def offset(self) -> int:
        return (self.page - 1) * self.page_size


def parse_list_query(params: QueryParams) -> ListQuery:
    errors: list[FieldError] = []
    page = _whole_number(params, "page", 1, 1, None, errors)
    page_size = _whole_number(params, "pageSize", DEFAULT_PAGE_SIZE, 1, MAX_PAGE_SIZE, errors)
    bound = None
    if "changedAfter" in params:
        bound = changed_after_bound(params["changedAfter"])
        if bound is None:
            errors.append(FieldError(
                "changedAfter", "invalid_format", "changedAfter must be a local datetime YYYY-MM-DDTHH:MM:SS"
            ))
    if errors:
        raise ValidationFailed(errors)
    return ListQuery(page, page_size, bound, params.get("externalId"))


def _whole_number(
    params: QueryParams, name: str, default: int, low: int, high: int | None, errors: list[FieldError]
) -> int:
    if name not in params:
        return default
    text = params[name]
    if not text.isdigit():
        errors.append(FieldError(name, "invalid_type", f"{name} must be a whole number"))
        return default
    value = int(text)
    if value < low or (high is not None and value > high):
        bounds = f"between {low} and {high}" if high is not None else f"at least {low}"
        errors.append(FieldError(name, "out_of_range", f"{name} must be {bounds}"))
        return default
    return value


def envelope(url: URL, query: ListQuery, total: int, result: list[dict]) -> dict:
    """The paged answer; page URLs are absolute and keep pageSize and the filters of the request."""
    total_pages = math.ceil(total / query.page_size)

    def page_url(page: int) -> str:
        return str(url.include_query_params(page=page, pageSize=query.page_size))

    return {
        "totalCount": total,
        "totalPages": total_pages,
        "previousPageUrl": page_url(query.page - 1) if query.page > 1 else None,
        "nextPageUrl": page_url(query.page + 1) if query.page < total_pages else None,
        "result": result,
    }
