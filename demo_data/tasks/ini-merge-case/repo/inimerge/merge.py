"""Merging configurations in order."""

from __future__ import annotations

from pathlib import Path

from inimerge.config import Config
from inimerge.parser import parse


def merge(*configs: Config) -> Config:
    result = Config()
    for config in configs:
        for section in config.sections():
            for option, value in config.options(section).items():
                result.set(section, option, value)
    return result


def merge_files(paths) -> Config:
    return merge(*(parse(Path(p).read_text(encoding="utf-8")) for p in paths))
