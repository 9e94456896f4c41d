"""``trajscope bench SUITE``: the performance benchmarks (the ``tui.bench`` package)."""

from __future__ import annotations

from trajscope.tui.bench import add_parser, run

__all__ = ["add_parser", "run"]
