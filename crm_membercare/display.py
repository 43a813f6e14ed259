"""Text from the systems shown to a person: control characters made visible, never passed through.

A CRM field can hold ESC sequences or BEL; printed raw they would drive the operator's terminal, and in the
UI's markdown they would garble a table. Every table the CLI prints and every preview the UI shows goes
through `printable`; JSON output stays exact (its encoder escapes control characters itself).
"""

from __future__ import annotations

import json
import unicodedata
from typing import Any


def _visible(ch: str) -> str:
    if ch in "\n\r\t":
        return " "
    if unicodedata.category(ch) in ("Cc", "Cf", "Zl", "Zp") and ch not in "\u200d":
        return f"\\x{ord(ch):02x}" if ord(ch) < 0x100 else f"\\u{ord(ch):04x}"
    return ch


def printable(value: Any, limit: int | None = None) -> str:
    """One line of text for a person: strings as they are, other values as JSON; controls escaped; shortened."""
    text = value if isinstance(value, str) else json.dumps(value, ensure_ascii=False, default=str)
    text = "".join(map(_visible, text))
    if limit is not None and len(text) > limit:
        text = text[: max(limit - 3, 0)] + "..."
    return text


def markdown_cell(value: Any, limit: int = 80) -> str:
    """A value inside a markdown table cell (the UI's previews)."""
    return printable("" if value is None else value, limit).replace("|", "\\|")
