"""Events and the append-only run log (docs/architecture.md section 2).

Events are plain dicts (one orjson object per line) with a ``type``, a ``ts`` and a
``run``.  ``RunLog`` appends them; ``read_events`` reads a log back, skipping and
counting damaged lines; ``LogFollower`` picks up what another process appends.
"""

from __future__ import annotations

import gc
import json
import os
import threading
import time
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import orjson

from trajscope.engine.files import WriteError, open_append, replacing
from trajscope.engine.jsonio import loads, read_regular, shallow

EVENT_TYPES = frozenset(
    {
        "run_started",
        "node_added",
        "node_started",
        "node_executed",
        "node_scored",
        "node_status",
        "branch_requested",
        "summary_written",
        "submitted",
        "checks_prepared",  # the agent's own checks of the base state (engine/search/checks.py)
        "candidate_checked",  # and of one candidate patch
        "run_finished",
        "command",  # a person's command that changes no node by itself: pause, resume, budget, ...
    }
)

# Events after which the log is fsync'd: a crash loses at most the node in flight.
SYNC_TYPES = frozenset({"node_executed", "node_status", "submitted", "candidate_checked", "run_finished"})


def make_event(type_: str, run: str, ts: float | None = None, **fields) -> dict:
    """Build an event dict with its envelope fields (any secret in it redacted)."""
    event = {"type": type_, "ts": time.time() if ts is None else ts, "run": run, **fields}
    return _without_secrets(event)


def dumps(event: dict) -> bytes:
    """One event as a JSON line body. What orjson cannot write (an integer past 64 bits, a
    lone surrogate, nesting past its limit) is written by the standard library, shallow."""
    try:
        return orjson.dumps(event, default=str)
    except orjson.JSONEncodeError:
        return json.dumps(shallow(event), default=str).encode()


def _without_secrets(event: dict) -> dict:
    from trajscope.engine.redact import has_secret, scrub

    try:
        if not has_secret(dumps(event)):
            return event
    except (ValueError, RecursionError):  # cannot be written at all: the writer will say so
        return event
    return scrub(event)


@dataclass
class ReadCounts:
    """What a reader had to leave out: damaged lines and events of unknown type."""

    damaged: int = 0
    unknown: int = 0


@contextmanager
def paused_gc():
    """Pause the cyclic GC while building many small acyclic objects (halves load time)."""
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was_enabled:
            gc.enable()


def parse_line(line: bytes, counts: ReadCounts) -> dict | None:
    """Parse one log line; damaged or unknown lines are counted and give None."""
    line = line.strip()
    if not line:
        return None
    try:
        event = orjson.loads(line)
    except orjson.JSONDecodeError:
        try:  # valid JSON that orjson refuses: a byte-order mark, \ud800, 1e999
            event = shallow(loads(line, deep=False))
        except ValueError:
            counts.damaged += 1
            return None
    if not isinstance(event, dict) or not isinstance(event.get("type"), str):
        counts.damaged += 1
        return None
    if event["type"] not in EVENT_TYPES:
        counts.unknown += 1
        return None
    return event


def parse_lines(data: bytes, counts: ReadCounts) -> list[dict]:
    """Parse a block of complete lines."""
    events = []
    with paused_gc():
        for line in data.split(b"\n"):
            event = parse_line(line, counts)
            if event is not None:
                events.append(event)
    return events


def read_events(path: str | Path, counts: ReadCounts | None = None) -> list[dict]:
    """Read a whole run log. Damaged and unknown lines are skipped and counted."""
    counts = counts if counts is not None else ReadCounts()
    return parse_lines(read_regular(path), counts)


FIRST_LINE_LIMIT = 64 << 20
"""Bytes of a log's first line read to see that it is a run_started event (a task's text is in it)."""


def check_run_log(fd: int, path: str | Path) -> None:
    """WriteError unless the file open at ``fd`` is empty or a trajscope run log (its first line
    a ``run_started`` event): appending to anything else (a user's notes, another tool's JSON)
    would add lines to a file trajscope does not own. Read with ``pread``, offsets untouched."""
    size = os.fstat(fd).st_size
    if size == 0:
        return
    head = b""
    while b"\n" not in head and len(head) < min(size, FIRST_LINE_LIMIT):
        chunk = os.pread(fd, min(1 << 20, FIRST_LINE_LIMIT - len(head)), len(head))
        if not chunk:
            break
        head += chunk
    first = head.split(b"\n", 1)[0]
    event = parse_line(first, ReadCounts()) if b"\n" in head or len(head) >= size else None
    if not event or event["type"] != "run_started":
        raise WriteError(
            f"{path} is not a trajscope run log (its first line is not a run_started event); "
            "trajscope appends only to its own run logs: choose another --out"
        )


class RunLog:
    """Append-only JSONL writer for one run; fsync'd at node completions. The log is locked
    while it is open: a second writer (here or in another process) gets LogBusy. It is never
    opened through a link or onto anything but a regular file (engine/files.py), nor onto a
    file that is not a run log (``check_run_log``)."""

    def __init__(self, path: str | Path, run: str | None = None) -> None:
        self.path = Path(path)
        self.run = run or self.path.stem
        self._fh = open_append(self.path, lock=True)
        self._lock = threading.Lock()
        try:
            check_run_log(self._fh.fileno(), self.path)
        except BaseException:
            self._fh.close()
            raise
        # A log whose last line was cut (a crash mid-write): the next event starts on a
        # line of its own, so it is not glued to the torn one and lost with it.
        size = os.fstat(self._fh.fileno()).st_size
        if size > 0 and os.pread(self._fh.fileno(), 1, size - 1) != b"\n":
            self._fh.write(b"\n")
            self._fh.flush()

    def _encode(self, event: dict) -> bytes:
        from trajscope.engine.redact import has_secret, scrub

        event.setdefault("ts", time.time())
        event.setdefault("run", self.run)
        data = dumps(event)
        if has_secret(data):  # never written to disk, whoever built the event
            data = dumps(scrub(event))
        return data + b"\n"

    def append(self, event: dict, sync: bool | None = None) -> None:
        """Append one event (a missing ``ts`` or ``run`` is filled in)."""
        data = self._encode(event)
        with self._lock:
            self._fh.write(data)
            self._fh.flush()
            if sync or (sync is None and event.get("type") in SYNC_TYPES):
                os.fsync(self._fh.fileno())

    def extend(self, events: Iterable[dict]) -> None:
        """Append many events with a single fsync at the end."""
        with self._lock:
            for event in events:
                self._fh.write(self._encode(event))
            self._fh.flush()
            os.fsync(self._fh.fileno())

    @property
    def closed(self) -> bool:
        return self._fh.closed

    def close(self) -> None:
        with self._lock:
            if not self._fh.closed:
                self._fh.flush()
                os.fsync(self._fh.fileno())
                self._fh.close()

    def __enter__(self) -> RunLog:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def encode_events(events: Iterable[dict]) -> bytes:
    """Events as the lines of a run log (any secret in them redacted)."""
    return b"".join(dumps(_without_secrets(event)) + b"\n" for event in events)


def write_events(path: str | Path, events: Iterable[dict]) -> None:
    """Write a complete run log to ``path`` (replacing a regular file there) atomically."""
    with replacing(path) as fh:
        for event in events:
            fh.write(dumps(_without_secrets(event)) + b"\n")


FOLLOW_CHUNK = 64 << 20
"""Bytes a follower reads at one poll."""

MAX_LINE = 64 << 20
"""Bytes a followed line may have; a longer one is skipped as damaged, never held."""


class LogFollower:
    """Reads what is appended to a run log since the last call.

    A line is only parsed once its newline has arrived, so a writer caught halfway
    through a line is never mistaken for damage.
    """

    def __init__(self, path: str | Path, offset: int = 0) -> None:
        self.path = Path(path)
        self.offset = offset
        self.counts = ReadCounts()
        self._partial = b""
        self._skipping = False
        self._inode: int | None = None

    def poll(self) -> list[dict]:
        """Return the complete new events since the previous poll."""
        try:
            stat = self.path.stat()
        except FileNotFoundError:
            return []
        size = stat.st_size
        if size < self.offset or (self._inode is not None and stat.st_ino != self._inode):
            self.offset, self._partial, self._skipping = 0, b"", False  # truncated or replaced: start over
        self._inode = stat.st_ino
        if size == self.offset:
            return []
        with open(self.path, "rb") as fh:
            fh.seek(self.offset)
            data = fh.read(min(size - self.offset, FOLLOW_CHUNK))  # the rest at the next poll
        self.offset += len(data)
        if self._skipping:  # the rest of a line too long to keep
            cut = data.find(b"\n")
            if cut < 0:
                return []
            self._skipping, data = False, data[cut + 1 :]
        data = self._partial + data
        cut = data.rfind(b"\n")
        if cut < 0:
            self._partial = data
            if len(data) > MAX_LINE:  # a line without end: counted as damaged, never held
                self.counts.damaged += 1
                self._partial, self._skipping = b"", True
            return []
        self._partial = data[cut + 1 :]
        if len(self._partial) > MAX_LINE:
            self.counts.damaged += 1
            self._partial, self._skipping = b"", True
        return parse_lines(data[:cut], self.counts)

    def follow(self, stop: threading.Event, debounce_ms: int = 50) -> Iterator[list[dict]]:
        """Yield batches of new events until ``stop`` is set (watchfiles, else polling)."""
        batch = self.poll()
        if batch:
            yield batch
        try:
            from watchfiles import watch

            target = self.path.parent
            for changes in watch(
                target,
                stop_event=stop,
                debounce=debounce_ms,
                step=10,
                rust_timeout=200,
                yield_on_timeout=True,
                recursive=False,
            ):
                if not changes or any(Path(p).name == self.path.name for _, p in changes):
                    batch = self.poll()
                    if batch:
                        yield batch
        except (OSError, RuntimeError):
            # inotify exhausted or unsupported file system: fall back to polling.
            while not stop.is_set():
                batch = self.poll()
                if batch:
                    yield batch
                stop.wait(debounce_ms / 1000)
