"""One HTTP client per system. Nothing else in the project builds URLs."""

from crm_membercare.systems.base_url import InsecureBaseUrl
from crm_membercare.systems.customcrm import CustomCrmClient
from crm_membercare.systems.errors import (
    Conflict,
    FieldError,
    NotFound,
    OutcomeUnknown,
    PermanentError,
    PreconditionFailed,
    RetryableError,
    SystemApiError,
    Unauthorized,
    ValidationFailed,
)
from crm_membercare.systems.membercare import MemberCareClient

__all__ = [
    "Conflict",
    "CustomCrmClient",
    "FieldError",
    "InsecureBaseUrl",
    "MemberCareClient",
    "NotFound",
    "OutcomeUnknown",
    "PermanentError",
    "PreconditionFailed",
    "RetryableError",
    "SystemApiError",
    "Unauthorized",
    "ValidationFailed",
]
