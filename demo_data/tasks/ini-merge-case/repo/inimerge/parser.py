"""A small INI parser that keeps the order of sections and options."""

from __future__ import annotations

from inimerge.config import Config


class ParseError(ValueError):
    def __init__(self, lineno: int, line: str, reason: str) -> None:
        super().__init__(f"line {lineno}: {reason}: {line!r}")
        self.lineno = lineno


def normalise_option(name: str) -> str:
    return name.strip()


def parse(text: str) -> Config:
    config = Config()
    section = None
    for lineno, raw in enumerate(text.splitlines(), start=1):
        line = raw.strip()
        if not line or line[0] in "#;":
            continue
        if line.startswith("["):
            if not line.endswith("]") or len(line) < 3:
                raise ParseError(lineno, raw, "malformed section header")
            section = line[1:-1].strip()
            config.add_section(section)
            continue
        if section is None:
            raise ParseError(lineno, raw, "option outside of any section")
        for sep in ("=", ":"):
            if sep in line:
                key, value = line.split(sep, 1)
                break
        else:
            raise ParseError(lineno, raw, "expected 'name = value'")
        if not key.strip():
            raise ParseError(lineno, raw, "empty option name")
        config.set(section, normalise_option(key), value.strip())
    return config
