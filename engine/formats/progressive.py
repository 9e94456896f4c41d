"""Reading a large file in parts, so its first steps can be shown before the rest is read.

A whole read holds the file's bytes, then the parsed document, then the events, all at
once, and nothing can be shown until the last byte is folded. Here a run log is read a
block of lines at a time, and a mini-swe-agent document one message at a time (the
message parsed, converted and dropped): the first ``Part`` holds the first steps and
comes after one small read; later parts follow as the file is read. The events of all
the parts are exactly those of a whole read (``load``).

Other formats, and documents laid out in an order this reader does not follow (``info``
after ``messages``), are read whole: one part. The same checks as a whole read apply (a
regular file under the size limit, not binary, not empty), and a file damaged past the
first part raises the same FormatError when its damage is reached.
"""

from __future__ import annotations

import os
import re
import stat
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

from trajscope.engine.events import ReadCounts, parse_lines
from trajscope.engine.formats import IMPORTERS, FormatError, check_head, load, run_name
from trajscope.engine.jsonio import BOM, MAX_INPUT, loads

FIRST_BYTES = 512 << 10
"""Bytes read before the first part is handed on: a screenful of steps in any trajectory seen."""
BLOCK_BYTES = 4 << 20
"""Bytes read for each later part."""
FIRST_STEPS = 64
"""Steps in the first part of a document: a screenful."""
PART_STEPS = 1000


@dataclass
class Part:
    """Events read so far from one file, with how far the reading has got."""

    events: list[dict]
    format: str
    done: int  # bytes read
    size: int  # bytes in the file
    counts: ReadCounts = field(default_factory=ReadCounts)
    last: bool = False
    replace: bool = False


class _Whole(Exception):
    """The file is not laid out for reading in parts: it is read whole."""


_TOKEN = re.compile(rb'"[^"\\]*(?:\\.[^"\\]*)*"|[\[\]{}]|"')
_STRING = re.compile(rb'"[^"\\]*(?:\\.[^"\\]*)*"')
_WS = re.compile(rb"[ \t\r\n]*")
_SCALAR_END = re.compile(rb"[,\]}\s]")


class _Document:
    """The members of a JSON object read from ``fd`` a block at a time, one value parsed at a time."""

    def __init__(self, fd: int, head: bytes) -> None:
        self.fd = fd
        self.buf = head
        self.pos = 0
        self.done = len(head)
        self.eof = False

    def _more(self) -> bool:
        if self.eof:
            return False
        data = os.read(self.fd, BLOCK_BYTES)
        if not data:
            self.eof = True
            return False
        self.done += len(data)
        self.buf = self.buf[self.pos :] + data
        self.pos = 0
        return True

    def _skip(self) -> int:
        """The next byte that is not white space (-1 at the end of the file)."""
        while True:
            self.pos = _WS.match(self.buf, self.pos).end()
            if self.pos < len(self.buf):
                return self.buf[self.pos]
            if not self._more():
                return -1

    def expect(self, char: bytes) -> None:
        if self._skip() != char[0]:
            raise ValueError(f"expected {char!r}")
        self.pos += 1

    def _end(self, guess: bool = True) -> int | None:
        """Where the value at ``pos`` ends, or None when the bytes read so far end inside it."""
        buf, start = self.buf, self.pos
        first = buf[start]
        if first == 0x22:  # a string
            found = _STRING.match(buf, start)
            return found.end() if found else None
        if first not in b"{[":
            found = _SCALAR_END.search(buf, start)
            return found.start() if found else (len(buf) if self.eof else None)
        # Pretty-printed JSON (what mini-swe-agent writes) closes a value on a line of its own,
        # indented as its opening line: no string holds a raw newline, so that line is found
        # with one search; the parse checks the guess (a wrong one does not parse).
        line = buf.rfind(b"\n", 0, start) + 1
        indent = buf[line:start]
        if guess and line and not indent.strip(b" \t"):
            close = buf.find(b"\n" + indent + (b"}" if first == 0x7B else b"]"), start)
            if close >= 0:
                return close + len(indent) + 2
            if not self.eof:
                return None
        depth = 0
        for token in _TOKEN.finditer(buf, start):
            text = token.group()
            if text == b'"':
                return None  # a string the bytes read so far cut
            if text[0] == 0x22:
                continue
            depth += 1 if text in (b"{", b"[") else -1
            if depth == 0:
                return token.end()
        return None

    def value(self):
        """The value at the current position, parsed (reads more of the file as needed)."""
        if self._skip() < 0:
            raise ValueError("the file ends where a value should be")
        guess = True
        while True:
            end = self._end(guess)
            if end is not None:
                try:
                    value = loads(self.buf[self.pos : end])
                except ValueError:
                    if not guess:
                        raise
                    guess = False  # the line found was not the value's end: walk its tokens
                    continue
                self.pos = end
                return value
            if not self._more():
                raise ValueError("the file ends inside a value")

    def members(self, streamed: str) -> Iterator[tuple[str, object]]:
        """``(key, value)`` for each member; the array ``streamed`` is given as
        ``(streamed, ITEM)`` for each of its elements instead of as one value."""
        self.expect(b"{")
        if self._skip() == 0x7D:
            return
        while True:
            key = self.value()
            if not isinstance(key, str):
                raise ValueError("a key that is not a string")
            self.expect(b":")
            if key == streamed and self._skip() == 0x5B:
                self.pos += 1
                yield key, START
                if self._skip() != 0x5D:
                    while True:
                        yield key, Item(self.value())
                        following = self._skip()
                        self.pos += 1
                        if following == 0x5D:
                            break
                        if following != 0x2C:
                            raise ValueError("expected , or ]")
                else:
                    self.pos += 1
            else:
                yield key, self.value()
            following = self._skip()
            self.pos += 1
            if following == 0x7D:
                return
            if following != 0x2C:
                raise ValueError("expected , or }")


START = object()


@dataclass
class Item:
    value: object


def _open(path: Path) -> tuple[int, int]:
    """An open regular file and its size, with the checks of a whole read."""
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK)
    except FileNotFoundError:
        raise FormatError(f"{path} does not exist") from None
    except OSError as exc:
        raise FormatError(f"{path} cannot be read: {exc.strerror or exc}") from None
    st = os.fstat(fd)
    if not stat.S_ISREG(st.st_mode) or st.st_size > MAX_INPUT:
        os.close(fd)
        load(path)  # says why in the words of a whole read
        raise FormatError(f"{path} is not a regular file")
    os.set_blocking(fd, True)
    return fd, st.st_size


def read_parts(path: str | Path) -> Iterator[Part]:
    """The file's events in parts, the first as soon as its first steps are read.

    A part with ``replace`` holds all the events of the file: what came before it is
    dropped (a document whose end changes its start, e.g. a run name after the steps)."""
    path = Path(path)
    fd, size = _open(path)
    try:
        head = os.read(fd, FIRST_BYTES)
        check_head(path, head[:8192])
        first = head.lstrip(BOM + b" \t\r\n")[:1]
        try:
            if first == b"{" and _is_run_log(head):
                yield from _run_log(path, fd, head, size)
                return
            if first == b"{":
                yield from _mini_document(path, fd, head, size)
                return
        except _Whole:
            pass
    finally:
        os.close(fd)
    yield _whole(path, size)


def _whole(path: Path, size: int) -> Part:
    loaded = load(path)
    return Part(loaded.events, loaded.format, size, size, loaded.counts, last=True, replace=True)


def _is_run_log(head: bytes) -> bool:
    line = head.removeprefix(BOM).split(b"\n", 1)[0]
    if line.strip() == b"{":
        return False  # a pretty-printed document
    try:
        event = loads(line)
    except ValueError:
        return False
    return isinstance(event, dict) and isinstance(event.get("type"), str) and "run" in event


def _run_log(path: Path, fd: int, head: bytes, size: int) -> Iterator[Part]:
    counts = ReadCounts()
    done, data, seen = len(head), head, False
    while True:
        last = done >= size
        cut = len(data) if last else data.rfind(b"\n") + 1
        events = parse_lines(data[:cut], counts)
        data = data[cut:]
        seen = seen or any(e["type"] in ("run_started", "node_added") for e in events)
        if last and not seen:
            yield _whole(path, size)  # not a run log after all: the whole read says what it is
            return
        yield Part(events, "runlog", done, size, counts, last=last)
        if last:
            return
        block = os.read(fd, min(BLOCK_BYTES, size - done))
        if not block:  # the file was cut while read
            size = done
        done += len(block)
        data += block


_TOP_INSTANCE = re.compile(rb'\n  "instance_id": ("[^"\\]*(?:\\.[^"\\]*)*")')


def _tail_instance(fd: int, size: int):
    """The top-level ``instance_id`` that mini-swe-agent's SWE-bench runs write after the
    messages (the run's name), found in the last bytes of the file without reading the rest."""
    tail = os.pread(fd, 64 << 10, max(0, size - (64 << 10)))
    found = list(_TOP_INSTANCE.finditer(tail))
    if not found:
        return None
    try:
        return loads(found[-1].group(1))
    except ValueError:
        return None


def _mini_document(path: Path, fd: int, head: bytes, size: int) -> Iterator[Part]:
    from trajscope.engine.formats.mini_swe_agent import Conversion

    document = _Document(fd, head.removeprefix(BOM))
    seen: dict = {}
    conversion = None
    instance = None
    try:
        for key, value in document.members("messages"):
            if value is START:
                if not _mini_first(seen):
                    raise _Whole
                instance = seen.get("instance_id") or _tail_instance(fd, size) or seen["info"].get("instance_id")
                conversion = Conversion(run_name(path), {**seen["info"], "instance_id": instance})
                reported, steps, want = document.done, 0, FIRST_STEPS
            elif isinstance(value, Item) and conversion is not None:
                conversion.feed(value.value)
                if conversion.steps - steps >= want or document.done > reported:
                    reported, steps, want = document.done, conversion.steps, PART_STEPS
                    yield Part(conversion.take(), "mini-swe-agent", document.done, size)
            else:
                seen[key] = value
    except ValueError:
        if conversion is None:
            raise _Whole from None  # not read in parts: the whole read says what is wrong
        raise FormatError(f"{path} is truncated or invalid JSON") from None
    if conversion is None:
        raise _Whole
    info = seen["info"]
    if (seen.get("instance_id") or info.get("instance_id")) != instance:
        yield _whole(path, size)  # the end of the file names the run otherwise, or is not mini's
        return
    events = conversion.take() + conversion.finish()
    if conversion.steps == 0:
        importer = IMPORTERS.load("mini-swe-agent")
        raise FormatError(
            f"{path}: it looks like a {importer.label} file but holds no step to import "
            f"({importer.needs}); is it another tool's format?"
        )
    yield Part(events, "mini-swe-agent", size, size, last=True)


def _mini_first(seen: dict) -> bool:
    """Whether what came before ``messages`` makes the document mini-swe-agent's, as a whole
    read would decide: ``info`` is there, and no format tried before mini-swe-agent claims it."""
    if not isinstance(seen.get("info"), dict):
        return False
    probe = {**seen, "messages": []}
    for fmt in IMPORTERS:
        if fmt == "mini-swe-agent":
            return True
        if IMPORTERS.load(fmt).looks_like(probe):
            return False
    return False
