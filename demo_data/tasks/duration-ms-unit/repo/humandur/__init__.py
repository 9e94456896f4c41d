from humandur.errors import DurationError
from humandur.format import format_duration
from humandur.parse import parse

__all__ = ["DurationError", "format_duration", "parse"]
