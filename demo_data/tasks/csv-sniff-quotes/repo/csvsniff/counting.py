"""Counting candidate delimiters in a line."""

from __future__ import annotations


def count_delimiters(line: str, candidates: str, quotechar: str = '"') -> dict[str, int]:
    counts = dict.fromkeys(candidates, 0)
    for char in line:
        if char in counts:
            counts[char] += 1
    return counts
