"""How much disk a local sandbox may take: a watched quota over its files.

A local sandbox's repository copy and home live on the host's disk, where a
per-directory limit needs root and a quota-enabled filesystem. So the sandbox
watches instead, cheaply where little is written: the free space and free inodes
of the filesystem (one ``statvfs``, a few microseconds) are read when a command
starts, every ``POLL_S`` while it runs, and when it ends. Only when they have
dropped by more than the sandbox may still add is its tree walked (about 30 ms for
7,000 files) to tell its own files from other writers'; past the limit the command
is killed and the state is not saved. One file is bounded at once by
``RLIMIT_FSIZE`` (set by the sandbox), which needs no watching.
"""

from __future__ import annotations

import os
import stat
import threading
from pathlib import Path

POLL_S = 0.05  # between two looks at the free space while a command runs
DISK_MB = 1024  # what a sandbox may add to its repository copy, home included
MAX_NEW_FILES = 100_000  # files and directories it may add (an inode bound: empty files cost no bytes)


def tree_usage(top: Path, stop_after: int | None = None) -> tuple[int, int]:
    """(bytes allocated, entries) under ``top``, links never followed. A file's bytes count
    once however many hard links name it (each name is an entry). A directory the walk
    cannot read counts as unlimited: whatever hides there cannot be measured."""
    size = entries = 0
    linked: set[tuple[int, int]] = set()  # (device, inode) of files with several names, counted
    stack = [str(top)]
    while stack:
        try:
            it = os.scandir(stack.pop())
        except FileNotFoundError:
            continue
        except OSError:
            return 1 << 62, 1 << 62
        with it:
            for entry in it:
                entries += 1
                try:
                    st = entry.stat(follow_symlinks=False)
                except OSError:
                    continue
                if stat.S_ISDIR(st.st_mode):
                    stack.append(entry.path)
                elif st.st_nlink > 1:
                    if (st.st_dev, st.st_ino) in linked:
                        continue
                    linked.add((st.st_dev, st.st_ino))
                size += st.st_blocks * 512
        if stop_after is not None and entries > stop_after:
            break  # over already: a tree of millions of files is not walked to its end
    return size, entries


class DiskQuota:
    """The watch over ``top``: at most ``base`` plus ``extra_bytes`` bytes and ``extra_files`` entries."""

    def __init__(
        self,
        top: Path,
        base: tuple[int, int],
        extra_bytes: int,
        extra_files: int = MAX_NEW_FILES,
        used: tuple[int, int] | None = None,
    ):
        self.top = top
        self.extra_bytes, self.extra_files = extra_bytes, extra_files
        self.max_bytes, self.max_files = base[0] + extra_bytes, base[1] + extra_files
        self.used = used  # an upper bound of what the sandbox takes (exact after a walk); None: unknown
        self.over = False
        self._mark: tuple[int, int] | None = None
        self._lock = threading.Lock()

    def _free(self) -> tuple[int, int]:
        st = os.statvfs(self.top)
        return st.f_bavail * st.f_frsize, st.f_favail

    def measure(self) -> bool:
        """Walk the tree: the exact figure, and whether it is over the limit."""
        self.used = tree_usage(self.top, stop_after=self.max_files)
        self.over = self.used[0] > self.max_bytes or self.used[1] > self.max_files
        return self.over

    def begin(self) -> None:
        """A command (or a restore) is about to write."""
        with self._lock:
            if self.used is None:
                self.measure()
            self._mark = self._free()

    def _estimate(self) -> tuple[int, int]:
        assert self.used is not None and self._mark is not None
        free = self._free()
        return (self.used[0] + max(0, self._mark[0] - free[0]), self.used[1] + max(0, self._mark[1] - free[1]))

    def check(self) -> bool:
        """While writing: True when the sandbox is over its limit (a walk confirms it, so
        what other processes write never counts against it)."""
        with self._lock:
            if self._mark is None:
                return self.over
            size, files = self._estimate()
            if size > self.max_bytes or files > self.max_files:
                self.measure()
                self._mark = self._free()  # the walk's figure is the new starting point
            return self.over

    def end(self) -> bool:
        """The writing is over: fold what the filesystem lost into the estimate."""
        over = self.check()
        with self._lock:
            if self._mark is not None:
                self.used = self._estimate()
                self._mark = None
        return over

    def describe(self) -> str:
        """The limit in words, for the messages the agent and the user read."""
        return f"{self.extra_bytes / (1 << 20):,.0f} MiB or {self.extra_files:,} files beyond the repository copy"
