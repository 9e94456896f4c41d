"""Text normalisation helpers."""

from __future__ import annotations

import re
import unicodedata

_NON_WORD = re.compile(r"[^a-z0-9]+")


def to_ascii(text: str) -> str:
    ascii_text = text.encode("ascii", "ignore").decode("ascii")
    return unicodedata.normalize("NFKD", ascii_text)


def hyphenate(text: str, separator: str = "-") -> str:
    return _NON_WORD.sub(separator, text.lower()).strip(separator)
