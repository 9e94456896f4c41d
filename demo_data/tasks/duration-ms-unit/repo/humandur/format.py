"""Formatting."""

from __future__ import annotations


def format_duration(seconds: float) -> str:
    if seconds < 0:
        raise ValueError("negative duration")
    if seconds < 1:
        return f"{round(seconds * 1000)}ms"
    whole = int(round(seconds))
    parts = []
    for unit, size in (("d", 86400), ("h", 3600), ("m", 60), ("s", 1)):
        count, whole = divmod(whole, size)
        if count:
            parts.append(f"{count}{unit}")
    return " ".join(parts)
