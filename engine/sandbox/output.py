"""What the engine keeps of a command's output: a bounded head and tail, never more.

An agent's command may print without end (``yes``, ``cat /dev/zero``), so the
engine never holds or saves the whole output: it keeps the first ``KEEP_HEAD``
and the last ``KEEP_TAIL`` bytes, counts the rest, and says how much it dropped.
The model sees a further cut of that (``OUTPUT_CAP`` characters, head and tail).
The kept bytes are saved, when the model's view was cut, in a directory only
the engine can write, opened without following links (see docs/security.md).
"""

from __future__ import annotations

import os
from pathlib import Path

KEEP_HEAD = 1 << 20
"""Bytes kept from the start of a command's output (memory and disk)."""

KEEP_TAIL = 1 << 20
"""Bytes kept from the end of a command's output (memory and disk)."""


class BoundedOutput:
    """Collects a byte stream keeping at most ``head + tail`` bytes; counts the rest."""

    __slots__ = ("head_cap", "tail_cap", "_head", "_tail", "total")

    def __init__(self, head: int = KEEP_HEAD, tail: int = KEEP_TAIL):
        self.head_cap, self.tail_cap = head, tail
        self._head = bytearray()
        self._tail = bytearray()
        self.total = 0

    def feed(self, data: bytes) -> None:
        self.total += len(data)
        room = self.head_cap - len(self._head)
        if room > 0:
            self._head += data[:room]
            data = data[room:]
        if data:
            self._tail += data
            excess = len(self._tail) - self.tail_cap
            if excess > 0:
                del self._tail[:excess]

    @property
    def dropped(self) -> int:
        return self.total - len(self._head) - len(self._tail)

    def data(self) -> bytes:
        """The kept bytes, with a marker where bytes were dropped."""
        if not self.dropped:
            return bytes(self._head + self._tail)
        marker = (
            f"\n[... {self.dropped:,} bytes of output dropped: trajscope keeps the first "
            f"{self.head_cap:,} and the last {self.tail_cap:,} ...]\n".encode()
        )
        return bytes(self._head) + marker + bytes(self._tail)

    def text(self) -> str:
        return self.data().decode("utf-8", errors="replace")


def save_private(directory: Path, name: str, data: bytes) -> Path:
    """Write ``data`` to a new file ``name`` in ``directory`` without following links.

    ``directory`` must be one the agent cannot write; the no-follow, exclusive
    open makes sure nothing planted there is ever opened in its place."""
    import secrets

    directory.mkdir(parents=True, exist_ok=True, mode=0o700)
    stem, dot, ext = name.rpartition(".")
    for attempt in range(8):  # something already there (planted or left): another name
        path = directory / (name if attempt == 0 else f"{stem or ext}-{secrets.token_hex(4)}{dot}{ext if stem else ''}")
        try:
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW, 0o600)
        except FileExistsError:
            continue
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
        return path
    raise OSError(f"could not create a new file in {directory}")


def keep_output(directory: Path, name: str, out: BoundedOutput) -> str | None:
    """Save what was kept of an output (see save_private); None when the disk refuses
    (full, read-only): the model's view is still there, the command's result is not lost."""
    try:
        return str(save_private(directory, name, out.data()))
    except OSError:
        return None


DRAIN_GRACE = 2.0
"""Seconds the engine still reads after a command ended (its output in flight)."""


def collect_output(fd: int, proc, timeout: float, out: BoundedOutput, kill) -> bool:
    """Read the pipe ``fd`` into ``out`` until ``proc`` ends and the pipe is drained.

    Every wait has a deadline: at ``timeout`` the command is killed (``kill(pid)``,
    which must also kill what it left behind); once it has ended, the pipe is read
    for at most ``DRAIN_GRACE`` more seconds, so a process that escaped the kill
    and holds the pipe open cannot hold the engine. True when the command timed out."""
    import select
    import time

    os.set_blocking(fd, False)
    deadline = time.monotonic() + timeout
    drain_until = None
    timed_out = False
    while True:
        now = time.monotonic()
        if drain_until is None:
            if proc.poll() is not None:
                kill(proc.pid)
                drain_until = now + DRAIN_GRACE
            elif now >= deadline:
                timed_out = True
                kill(proc.pid)
                try:
                    proc.wait(10)
                except Exception:  # noqa: BLE001 - a process stuck in the kernel; go on
                    pass
                drain_until = now + DRAIN_GRACE
        elif now >= drain_until:
            return timed_out
        wait = min(0.2, max(0.0, (drain_until or deadline) - now))
        ready, _, _ = select.select([fd], [], [], wait)
        if not ready:
            continue
        try:
            chunk = os.read(fd, 1 << 16)
        except BlockingIOError:
            continue
        if not chunk:
            if drain_until is None:  # the pipe closed first: wait for the exit (bounded)
                try:
                    proc.wait(max(0.0, deadline - time.monotonic()))
                except Exception:  # noqa: BLE001 - timed out: the loop kills it
                    continue
                kill(proc.pid)
            return timed_out
        out.feed(chunk)


class OutputTooLarge(Exception):
    """A helper's output passed its limit."""


def run_bounded(
    argv: list[str], *, env: dict, timeout: float, limit: int, cwd: str | None = None
) -> tuple[int, bytes, bytes]:
    """Run an engine helper (git); (exit code, stdout, last 4 KB of stderr).

    Its stdout may not pass ``limit`` bytes (OutputTooLarge) and it may not run past
    ``timeout`` (subprocess.TimeoutExpired): what it reads is agent-made."""
    import selectors
    import subprocess
    import time

    proc = subprocess.Popen(
        argv,
        env=env,
        cwd=cwd,
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        start_new_session=True,
    )
    out, err = bytearray(), BoundedOutput(0, 4096)
    deadline = time.monotonic() + timeout
    sel = selectors.DefaultSelector()
    sel.register(proc.stdout, selectors.EVENT_READ, out)
    sel.register(proc.stderr, selectors.EVENT_READ, err)
    try:
        while sel.get_map():
            left = deadline - time.monotonic()
            if left <= 0:
                raise subprocess.TimeoutExpired(argv, timeout)
            for key, _ in sel.select(min(left, 1.0)):
                chunk = os.read(key.fd, 1 << 16)
                if not chunk:
                    sel.unregister(key.fileobj)
                elif key.data is out:
                    out += chunk
                    if len(out) > limit:
                        raise OutputTooLarge(f"more than {limit:,} bytes")
                else:
                    key.data.feed(chunk)
        code = proc.wait(max(0.1, deadline - time.monotonic()))
    except BaseException:
        try:
            os.killpg(proc.pid, 9)
        except OSError:
            pass
        proc.wait()
        raise
    finally:
        sel.close()
        proc.stdout.close()
        proc.stderr.close()
    return code, bytes(out), err.data()
