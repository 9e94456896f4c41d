"""The Sandbox protocol (docs/architecture.md section 3) and what every sandbox shares.

A sandbox holds one working copy of a task's repository. Commands run in it,
the editor tools read and write files in it, and its state is saved and
restored as git commits in a snapshot store (``git_store``).
"""

from __future__ import annotations

import itertools
import posixpath
import threading
from dataclasses import dataclass
from typing import Protocol, runtime_checkable
from trajscope.engine.sandbox.errors import SandboxError

StateRef = str
"""A commit id in the snapshot store."""

OUTPUT_CAP = 10_000
"""Characters of command output the model sees; head and tail are kept."""

DEFAULT_TIMEOUT = 120.0


class PathOutsideRepo(SandboxError):
    """An editor operation named a path outside the repository."""


@dataclass(frozen=True, slots=True)
class ExecResult:
    output: str  # stdout and stderr interleaved, capped to OUTPUT_CAP (head and tail)
    exit_code: int  # -1 when the command was killed at its timeout
    duration: float  # seconds
    timed_out: bool = False
    truncated: bool = False
    output_path: str | None = None  # the full output on the host, when it was capped
    output_size: int = 0  # characters before capping

    @property
    def ok(self) -> bool:
        return self.exit_code == 0 and not self.timed_out


@runtime_checkable
class Sandbox(Protocol):
    kind: str  # "docker", "local" or "none" (the local one without bubblewrap, asked for by name)
    repo: str  # the repository root as commands see it

    def run(self, command: str, timeout: float = DEFAULT_TIMEOUT) -> ExecResult: ...
    def read(self, path: str) -> str: ...
    def write(self, path: str, text: str) -> None: ...
    def snapshot(self) -> StateRef: ...
    def restore(self, ref: StateRef) -> None: ...
    def fork(self, ref: StateRef) -> "Sandbox": ...
    def diff(self) -> str: ...
    def close(self) -> None: ...


PARK_LIMIT = 8
"""Closed sandboxes a session keeps for its next forks (each holds a copy of the repository)."""


class SharedState:
    """Counts the sandboxes that share a snapshot store (a root sandbox and its forks), and
    keeps the ones closed while others are open for the next fork to reuse.

    A fork that reuses a closed sandbox restores its state there, so it costs what differs
    between the two states, not a copy of the repository (a search's checks fork and close
    one sandbox per candidate). Reuse is a restore like any other: nothing of the closed
    sandbox's commands survives one (docs/security.md). A parked sandbox has ``teardown()``,
    called when the session ends."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.open = 0
        self.counter = itertools.count()
        self.base: StateRef | None = None
        self.parked: list = []

    def acquire(self) -> int:
        """Count one more sandbox; returns its number."""
        with self.lock:
            self.open += 1
            return next(self.counter)

    def reacquire(self) -> None:
        """Count a parked sandbox again, under the number it had."""
        with self.lock:
            self.open += 1

    def park(self, box) -> bool:
        """Keep ``box`` (being closed) for a later fork; False when it is the session's last
        open sandbox (the session ends with it) or enough are kept already."""
        with self.lock:
            if self.open <= 1 or len(self.parked) >= PARK_LIMIT:
                return False
            self.parked.append(box)
            return True

    def unpark(self):
        """A parked sandbox, or None."""
        with self.lock:
            return self.parked.pop() if self.parked else None

    def release(self) -> bool:
        """Count one sandbox fewer; True when it was the last (the parked ones go then)."""
        with self.lock:
            self.open -= 1
            last = self.open == 0
            parked, self.parked = (self.parked, []) if last else ([], self.parked)
        for box in parked:
            box.teardown()
        return last


def cap_output(text: str, cap: int = OUTPUT_CAP) -> tuple[str, bool]:
    """``text`` cut to ``cap`` characters, keeping its head and tail around a marker."""
    if len(text) <= cap:
        return text, False
    head = cap * 2 // 5
    tail = cap - head
    omitted = len(text) - head - tail
    marker = f"\n[... {omitted:,} characters omitted; the full output is saved ...]\n"
    return text[:head] + marker + text[-tail:], True


def repo_path(path: str, repo: str) -> str:
    """``path`` as an absolute path inside ``repo``, or PathOutsideRepo.

    Relative paths are taken from the repository root; absolute paths are
    accepted when they lie inside it. This is lexical; sandboxes also check
    the resolved path so that symbolic links cannot lead out.
    """
    if not isinstance(path, str) or not path.strip() or "\x00" in path:
        raise PathOutsideRepo(f"invalid path {path!r}")
    path = path.strip()
    joined = posixpath.normpath(path if path.startswith("/") else posixpath.join(repo, path))
    if joined != repo and not joined.startswith(repo.rstrip("/") + "/"):
        raise PathOutsideRepo(f"{path} is outside the repository ({repo})")
    return joined
