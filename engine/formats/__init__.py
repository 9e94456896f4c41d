"""Importers: any supported trajectory file becomes run-log events.

Formats are detected by content, never by file name: ``IMPORTERS`` is the table, in the
order formats are tried (each entry an ``Importer``, engine/formats/builder.py).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from trajscope.engine.events import ReadCounts, parse_line, parse_lines
from trajscope.engine.jsonio import BOM, NotRegularFile, loads, read_regular
from trajscope.engine.registry import Registry
from trajscope.engine.errors import UserCausedError


class FormatError(UserCausedError):
    """A file trajscope cannot read; the message is one sentence for the user."""


@dataclass
class Loaded:
    """Events read or converted from a file, and what had to be skipped."""

    events: list[dict]
    format: str
    counts: ReadCounts = field(default_factory=ReadCounts)


def run_name(path: Path) -> str:
    name = path.name
    for suffix in (".traj.json", ".traj", ".prev.root", ".root", ".jsonl", ".json"):
        if name.endswith(suffix):
            return name[: -len(suffix)] or name
    return path.stem


# name -> Importer, tried in this order (moatless trees also hold messages other formats look for)
IMPORTERS = Registry(
    "format",
    {
        "moatless": "trajscope.engine.formats.moatless:IMPORTER",
        "moatless-transitions": "trajscope.engine.formats.moatless_transitions:IMPORTER",
        "dars": "trajscope.engine.formats.dars:TREE",
        "dars-evaluation": "trajscope.engine.formats.dars:EVALUATION",
        "mini-swe-agent": "trajscope.engine.formats.mini_swe_agent:IMPORTER",
        "openhands": "trajscope.engine.formats.openhands:IMPORTER",
        "swe-agent": "trajscope.engine.formats.swe_agent:IMPORTER",
    },
    FormatError,
)
KNOWN = f"a run log or a file of {IMPORTERS.names()}"
"""What trajscope reads, for messages and help."""


def convert_data(data: object, name: str) -> tuple[list[dict], str]:
    """Events from an already-parsed JSON document, and the name of its format."""
    for fmt in IMPORTERS:
        importer = IMPORTERS.load(fmt)
        if importer.looks_like(data):
            return importer.convert(data, name), fmt
    raise FormatError(f"it is JSON but not a format trajscope knows ({KNOWN})")


def check_steps(events: list[dict], fmt: str, what: str = "file") -> None:
    """FormatError unless the converted ``events`` hold a step: a file of a format's shape
    that is not of that format converts to none."""
    if fmt in IMPORTERS and not any(e.get("type") == "node_added" for e in events):
        importer = IMPORTERS.load(fmt)
        raise FormatError(
            f"it looks like a {importer.label} {what} but holds no step to import "
            f"({importer.needs}); is it another tool's format?"
        )


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
            raise FormatError(
                f"{path} holds {runs} runs, one a line (an evaluation's output): "
                "`trajscope open` lists them, `trajscope convert` writes one run log each"
            )
        if stripped[:1] in (b"{", b"["):
            raise FormatError(f"{path} is truncated or invalid JSON")
        raise FormatError(f"{path} is not JSON: trajscope reads {KNOWN}")
    del raw  # only the parsed document is read from here on: its bytes need not stay in memory
    try:
        events, fmt = convert_data(data, run_name(path))
        check_steps(events, fmt)
    except FormatError as exc:
        raise FormatError(f"{path}: {exc}") from None
    except RecursionError:
        raise FormatError(f"{path} looks like a known format but holds values nested too deeply") from None
    except (KeyError, TypeError, ValueError, AttributeError, IndexError) as exc:
        raise FormatError(f"{path} looks like a known format but is damaged ({type(exc).__name__}: {exc})") from None
    return Loaded(events, fmt)
