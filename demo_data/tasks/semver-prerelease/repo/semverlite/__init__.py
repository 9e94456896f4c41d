"""Semantic version parsing and comparison."""

from semverlite.errors import InvalidVersion
from semverlite.version import Version, compare

__all__ = ["InvalidVersion", "Version", "compare"]
__version__ = "0.3.1"
