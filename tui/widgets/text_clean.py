"""Making recorded terminal output safe to draw: no ANSI codes, NUL or other controls."""

from __future__ import annotations

import re

_ANSI = re.compile(r"\x1b\[[0-?]*[ -/]*[@-~]|\x1b\][^\x07\x1b]*(?:\x07|\x1b\\)|\x1b[@-Z\\-_]")
_CONTROLS = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")


def clean_text(text: str) -> str:
    """Drop ANSI escape sequences, NUL bytes and control characters; normalise newlines."""
    text = _ANSI.sub("", text)
    text = text.replace("\r\n", "\n").replace("\r", "\n")
    return _CONTROLS.sub("", text)


def preview(text: str, max_chars: int = 6000, max_lines: int = 120) -> tuple[str, int]:
    """The cleaned head of a long text, and about how many characters were left out."""
    head = clean_text(text[: max_chars * 2])
    shown = "\n".join(head.split("\n")[:max_lines])[:max_chars]
    if len(shown) == len(head) and len(text) <= max_chars * 2:
        return shown, 0
    return shown, max(len(text) - len(shown), 1)
