"""Importers: any supported trajectory file becomes run-log events.

Formats are detected by content, never by file name.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from trajscope.engine.events import ReadCounts, parse_line, parse_lines
from trajscope.engine.jsonio import BOM, NotRegularFile, loads, read_regular
from trajscope.engine.formats import dars, mini_swe_agent, moatless, openhands, swe_agent


class FormatError(Exception):
    """A file trajscope cannot read; the message is one sentence for the user."""


@dataclass
class Loaded:
    """Events read or converted from a file, and what had to be skipped."""

    events: list[dict]
    format: str
    counts: ReadCounts = field(default_factory=ReadCounts)


def _run_name(path: Path) -> str:
    name = path.name
    for suffix in (".traj.json", ".traj", ".prev.root", ".root", ".jsonl", ".json"):
        if name.endswith(suffix):
            return name[: -len(suffix)] or name
    return path.stem


# What each importer needs to find a step: said when it finds none in a non-empty file.
_LOOKS = {
    "dars": ("DARS tree", "no assistant message under `root`"),
    "dars-evaluation": ("DARS evaluation", "no evaluated patch"),
    "mini-swe-agent": ("mini-swe-agent", "no assistant message in `messages`"),
    "openhands": ("OpenHands", "no agent action in its events"),
    "moatless": ("moatless-tree-search", "no node with an action step under `root`"),
    "swe-agent": ("SWE-agent", "no step in `trajectory` and no assistant message in `history`"),
}


def convert_data(data: object, name: str) -> tuple[list[dict], str]:
    """Events from an already-parsed JSON document."""
    if moatless.looks_like(data):
        return moatless.convert(data, name), "moatless"
    if dars.looks_like_tree(data):
        return dars.convert_tree(data, name), "dars"
    if dars.looks_like_evaluation(data):
        return dars.convert_evaluation(data, name), "dars-evaluation"
    if mini_swe_agent.looks_like(data):
        return mini_swe_agent.convert(data, name), "mini-swe-agent"
    if openhands.looks_like(data):
        return openhands.convert(data, name), "openhands"
    if swe_agent.looks_like(data):
        return swe_agent.convert(data, name), "swe-agent"
    raise FormatError("it is JSON but not a format trajscope knows "
                      "(a run log, SWE-agent .traj, mini-swe-agent, OpenHands, moatless or DARS file)")


def check_head(path: Path, head: bytes) -> None:
    """Refuse an empty or binary file from its first bytes (cheap, before any parsing).

    A NUL byte alone does not make a file binary: in a run log it damages one line,
    which is skipped wherever it is; the file is binary when no line of its head reads."""
    if not head.removeprefix(BOM).strip():
        raise FormatError(f"{path} is empty")
    head = head[:8192]
    if b"\x00" in head:
        lines = head.split(b"\n")
        whole = lines[:-1] if len(lines) > 1 else lines
        if not any(parse_line(line, ReadCounts()) for line in whole):
            raise FormatError(f"{path} is a binary file, not a trajectory or run log")


def read_input(path: Path) -> bytes:
    """The bytes of an input file, or FormatError: a directory, a FIFO or device, too large."""
    try:
        return read_regular(path)
    except IsADirectoryError:
        raise FormatError(f"{path} is a directory, not a file") from None
    except FileNotFoundError:
        raise FormatError(f"{path} does not exist") from None
    except NotRegularFile as exc:
        raise FormatError(str(exc)) from None
    except OSError as exc:
        raise FormatError(f"{path} cannot be read: {exc.strerror or exc}") from None


def load(path: str | Path) -> Loaded:
    """Read a run log, or convert a trajectory file, into events."""
    path = Path(path)
    raw = read_input(path)
    check_head(path, raw[:8192])
    try:
        first = raw[:65536].lstrip(BOM + b" \t\r\n")[:1] or raw.lstrip(BOM + b" \t\r\n")[:1]
        data = loads(raw) if first in (b"{", b"[") else None
    except ValueError as exc:
        data = None
        if "levels deep" in str(exc):
            raise FormatError(f"{path} is JSON {exc}; trajscope does not read it") from None
    if isinstance(data, dict) and isinstance(data.get("type"), str) and "run" in data:
        data = None  # a run log of one line
    if data is None:
        counts = ReadCounts()
        events = parse_lines(raw, counts)
        if events and any(e["type"] == "run_started" or e["type"] == "node_added" for e in events):
            return Loaded(events, "runlog", counts)
        try:
            raw.decode("utf-8")
        except UnicodeDecodeError:
            raise FormatError(f"{path} is a binary file, not a trajectory or run log") from None
        stripped = raw.removeprefix(BOM).lstrip()
        first = stripped.split(b"\n", 1)[0]
        try:
            head = loads(first) if first[:1] == b"{" else None
        except ValueError:
            head = None
        if isinstance(head, dict) and isinstance(head.get("history"), list):
            runs = sum(1 for line in stripped.split(b"\n") if line.strip())
            raise FormatError(f"{path} holds {runs} runs, one a line (an evaluation's output): "
                              "`trajscope open` lists them, `trajscope convert` writes one run log each")
        if stripped[:1] in (b"{", b"["):
            raise FormatError(f"{path} is truncated or invalid JSON")
        raise FormatError(f"{path} is not JSON: trajscope reads run logs, SWE-agent, "
                          "mini-swe-agent and DARS files")
    del raw  # only the parsed document is read from here on: its bytes need not stay in memory
    try:
        events, fmt = convert_data(data, _run_name(path))
        if not any(e.get("type") == "node_added" for e in events):
            raise FormatError(f"it looks like a {_LOOKS[fmt][0]} file but holds no step to import "
                              f"({_LOOKS[fmt][1]}); is it another tool's format?")
    except FormatError as exc:
        raise FormatError(f"{path}: {exc}") from None
    except RecursionError:
        raise FormatError(f"{path} looks like a known format but holds values nested too deeply") from None
    except (KeyError, TypeError, ValueError, AttributeError, IndexError) as exc:
        raise FormatError(f"{path} looks like a known format but is damaged ({type(exc).__name__}: {exc})") from None
    return Loaded(events, fmt)
