"""Cross-system identities stamped on linked records (DESIGN C2, C6).

A CRM record linked to MemberCare person 10017 carries `external_ref = "membercare:persons:10017"`; the
person carries `externalId = "customcrm:contacts:42"`. Creates set them before the POST, so an unknown
outcome can be looked up, and the link table can be rebuilt from the systems themselves.
"""

from __future__ import annotations

CRM_SYSTEM, MC_SYSTEM = "customcrm", "membercare"


def crm_identity(resource: str, crm_id: int) -> str:
    """What a MemberCare record linked to this CRM record carries in `externalId`."""
    return f"{CRM_SYSTEM}:{resource}:{crm_id}"


def mc_identity(resource: str, mc_id: int | str) -> str:
    """What a CRM record linked to this MemberCare record carries in `external_ref`."""
    return f"{MC_SYSTEM}:{resource}:{mc_id}"


def parse_identity(value: str | None, system: str, resource: str) -> str | None:
    """The id inside `value` when it names a record of `system`/`resource`, else None."""
    if not value:
        return None
    parts = str(value).split(":")
    if len(parts) != 3 or parts[0] != system or parts[1] != resource or not parts[2]:
        return None
    return parts[2]
