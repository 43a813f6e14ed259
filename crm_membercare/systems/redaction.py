"""Keep credentials out of log lines that httpx writes.

MemberCare's token call carries the API key in its query string (`clientApiKey=`), and httpx logs every
request's full URL at INFO. This filter rewrites such values before any handler sees them.
"""

from __future__ import annotations

import logging
import re

import httpx

SECRET_QUERY = re.compile(r"(clientApiKey=)[^&\s\"']*", re.IGNORECASE)


def redact(text: str) -> str:
    return SECRET_QUERY.sub(r"\1[redacted]", text)


class RedactCredentials(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        if isinstance(record.msg, str):
            record.msg = redact(record.msg)
        if isinstance(record.args, tuple):
            record.args = tuple(redact(str(arg)) if isinstance(arg, str | httpx.URL) else arg for arg in record.args)
        return True


def install() -> None:
    """Attach the filter to httpx's loggers (idempotent)."""
    for name in ("httpx", "httpcore"):
        logger = logging.getLogger(name)
        if not any(isinstance(f, RedactCredentials) for f in logger.filters):
            logger.addFilter(RedactCredentials())
