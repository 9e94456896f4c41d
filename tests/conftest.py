"""Shared fixtures: paths to the real trajectory files and small run logs."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

os.environ.setdefault("TRAJSCOPE_THEME", "trajscope-dark")

ROOT = Path(__file__).resolve().parent.parent
REAL = Path(__file__).resolve().parent / "fixtures" / "real"
DEMO_RUN = ROOT / "demo_data" / "runs" / "calc-divide.jsonl"

REAL_FILES = sorted(p for p in REAL.rglob("*") if p.is_file() and p.name != "SOURCES.md")


@pytest.fixture
def demo_run() -> Path:
    return DEMO_RUN
