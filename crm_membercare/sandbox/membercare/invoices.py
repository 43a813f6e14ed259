"""The invoice lifecycle: which status moves are allowed, what a locked invoice still accepts, totals.

Draft -> Sent and Sent -> Paid happen by PUT; Sent/Paid -> Credited only by POST /credit. An invoice that is not
a Draft is locked: a PUT may move its status (Sent -> Paid) and edit the reference fields, nothing else.
"""

from __future__ import annotations

from crm_membercare.sandbox.membercare.errors import ApiError, FieldError, ValidationFailed
from crm_membercare.sandbox.money import document_total

REFERENCE_FIELDS = frozenset({"ourReference", "ourReferenceEmail", "orderReference", "externalId"})
PUT_MOVES = frozenset({("Draft", "Sent"), ("Sent", "Paid")})
CREATE_STATUSES = ("Draft", "Sent")
ITEM_AMOUNT_KEYS = ("quantity", "unitPrice", "discountPercent", "vatRate")


def total_amount(items: list[dict]) -> float:
    return document_total(items, ITEM_AMOUNT_KEYS)


def status_on_create(requested: str | None) -> str:
    """A new invoice is a Draft unless the body asks for Sent."""
    status = requested or "Draft"
    if status not in CREATE_STATUSES:
        raise ValidationFailed([FieldError("status", "invalid_value", "a new invoice is Draft or Sent")])
    return status


def status_on_replace(stored: dict, fields: dict) -> str:
    """The status after a PUT, or 409 when the PUT moves the status illegally or edits a locked invoice.

    A PUT without `status` keeps the current one: a status is a lifecycle state, and resetting it to Draft
    would be an illegal move for every invoice that has left Draft.
    """
    current = stored["status"]
    wanted = fields["status"] or current
    if wanted != current and (current, wanted) not in PUT_MOVES:
        raise ApiError(409, "invalid_status_transition")
    if current != "Draft":
        locked = (key for key in fields if key != "status" and key not in REFERENCE_FIELDS)
        if any(fields[key] != stored.get(key) for key in locked):
            raise ApiError(409, "invoice_locked")
    return wanted


def check_credit(stored: dict) -> None:
    if stored["status"] == "Draft":
        raise ApiError(409, "invoice_is_draft")
    if stored["status"] not in ("Sent", "Paid"):
        raise ApiError(409, "invalid_status_transition")


def check_delete(stored: dict) -> None:
    if stored["status"] != "Draft":
        raise ApiError(409, "invoice_not_draft")
