"""Splitting text into words and words into pieces."""

from __future__ import annotations

import re

_SPACE = re.compile(r"\s+")


def words(text: str) -> list[str]:
    return [w for w in _SPACE.split(text.strip()) if w]


def chop(word: str, size: int) -> list[str]:
    """``word`` cut into pieces of at most ``size`` characters."""
    if size < 1:
        raise ValueError("width leaves no room for text")
    return [word[i:i + size] for i in range(0, len(word), size)]
