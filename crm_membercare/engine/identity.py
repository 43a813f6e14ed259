"""Cross-system identities stamped on linked records (DESIGN C2, C6).

A CRM record linked to MemberCare person 10017 carries `external_ref = "membercare:persons:10017"`; the
person carries `externalId = "customcrm:contacts:42"`. Creates set them before the POST, so an unknown
outcome can be looked up, and the link table can be rebuilt from the systems themselves.
"""

from __future__ import annotations

# The prefixes of the identity stamps written into both systems (their wire format: never renamed).
CRM_STAMP, MC_STAMP = "customcrm", "membercare"


def crm_identity(resource: str, crm_id: int) -> str:
    """What a MemberCare record linked to this CRM record carries in `externalId`."""
    return f"{CRM_STAMP}:{resource}:{crm_id}"


def mc_identity(resource: str, mc_id: int | str) -> str:
    """What a CRM record linked to this MemberCare record carries in `external_ref`."""
    return f"{MC_STAMP}:{resource}:{mc_id}"
