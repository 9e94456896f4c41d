"""Merge layered INI configuration files."""

from inimerge.config import Config
from inimerge.merge import merge, merge_files
from inimerge.parser import ParseError, parse

__all__ = ["Config", "ParseError", "merge", "merge_files", "parse"]
