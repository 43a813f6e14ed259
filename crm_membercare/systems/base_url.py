"""A base URL is checked before a client exists (DESIGN A0): credentials never cross a network in clear.

Plain `http://` is allowed only to a loopback address written as such (127.0.0.0/8, `::1`, `localhost`): a
name is not resolved to decide, since what it resolves to can change between the check and the connection.
`CRM_MEMBERCARE_ALLOW_INSECURE_HTTP=1` lets plain HTTP through anyway, with a warning every time a client is
made. Both clients call `check_base_url` from their shared constructor, so every entry point (CLI, Dagster
resources, sensors) is covered.
"""

from __future__ import annotations

import ipaddress
import logging
import os
from collections.abc import Mapping

import httpx

ALLOW_INSECURE = "CRM_MEMBERCARE_ALLOW_INSECURE_HTTP"
LOOPBACK_NAMES = frozenset({"localhost"})

log = logging.getLogger("crm_membercare.systems")


class InsecureBaseUrl(ValueError):
    """A base URL that would send a credential in clear; the message is one line for the operator."""


def is_loopback(host: str) -> bool:
    if host.lower() in LOOPBACK_NAMES:
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def check_base_url(base_url: str, variable: str, credential: str, environ: Mapping[str, str] | None = None) -> None:
    """Raise `InsecureBaseUrl` unless `base_url` is https, or http to loopback, or the override is set.

    `variable` names the setting and `credential` what would leak, for the message (never its value)."""
    env = os.environ if environ is None else environ
    try:
        url = httpx.URL(base_url)
    except httpx.InvalidURL as error:
        raise InsecureBaseUrl(f"{variable} is not a URL ({error})") from None
    scheme, host = url.scheme.lower(), url.host
    if scheme == "https" and host:
        return
    if scheme != "http" or not host:
        raise InsecureBaseUrl(f"{variable} must be an https:// URL (or http:// to a loopback address), "
                              f"got scheme {scheme or 'none'!r}")
    if is_loopback(host):
        return
    if env.get(ALLOW_INSECURE) == "1":
        log.warning("%s is plain http:// to %s (not loopback): the %s crosses the network in clear, "
                    "allowed by %s=1", variable, host, credential, ALLOW_INSECURE)
        return
    raise InsecureBaseUrl(f"{variable} is refused: plain http:// to {host} (not a loopback address) would send "
                          f"the {credential} in clear; use https://, or set {ALLOW_INSECURE}=1 to allow it")
