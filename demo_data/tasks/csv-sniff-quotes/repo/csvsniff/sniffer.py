"""Choosing the delimiter that splits every line into the same number of fields."""

from __future__ import annotations

from csvsniff.counting import count_delimiters
from csvsniff.dialect import Dialect

CANDIDATES = ",;\t|"


class SniffError(ValueError):
    pass


def sniff(sample: str, candidates: str = CANDIDATES) -> Dialect:
    lines = [line for line in sample.splitlines() if line.strip()]
    if not lines:
        raise SniffError("the sample is empty")
    if len(lines) > 1 and not sample.endswith("\n"):
        lines = lines[:-1]  # the last line may be cut off mid-row
    per_line = [count_delimiters(line, candidates) for line in lines]
    best = None
    for rank, delim in enumerate(candidates):
        counts = [c[delim] for c in per_line]
        if min(counts) == 0:
            continue
        consistent = len(set(counts)) == 1
        score = (consistent, min(counts), -rank)
        if best is None or score > best[0]:
            best = (score, delim)
    if best is None:
        raise SniffError("no delimiter appears on every line")
    delimiter = best[1]
    return Dialect(delimiter=delimiter, has_header=_looks_like_header(lines, delimiter))


def _looks_like_header(lines: list[str], delimiter: str) -> bool:
    if len(lines) < 2:
        return False
    first = lines[0].split(delimiter)
    second = lines[1].split(delimiter)
    return not any(f.strip().replace(".", "", 1).isdigit() for f in first) and any(
        s.strip().replace(".", "", 1).isdigit() for s in second
    )
