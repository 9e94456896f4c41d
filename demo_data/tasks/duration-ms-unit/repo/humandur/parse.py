"""Parsing."""

from __future__ import annotations

import re

from humandur.errors import DurationError
from humandur.units import SECONDS

_PART = re.compile(r"(\d+(?:\.\d+)?)(d|h|m|s|ms)")


def parse(text: str) -> float:
    compact = text.replace(" ", "").lower()
    if not compact:
        raise DurationError("empty duration")
    total = 0.0
    pos = 0
    for match in _PART.finditer(compact):
        if match.start() != pos:
            break
        total += float(match.group(1)) * SECONDS[match.group(2)]
        pos = match.end()
    if pos != len(compact):
        raise DurationError(f"invalid duration {text!r}")
    return total
