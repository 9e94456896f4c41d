"""Users of their own for root's sandboxes, unique across every trajscope process of a machine.

As root, each local sandbox runs its commands as an unprivileged uid, and where no pids cgroup
can be made, it ends a command by killing every process of that uid. Two processes that chose
uids on their own (a batch's worker processes, two searches side by side) would hand the same
uid to two sandboxes, and one sandbox's end would kill the other's commands. A uid is therefore
leased: an ``flock`` on a file named after it, in a folder only root can write, held for the
sandbox's life and dropped by the kernel when the process dies (a killed search leaves no lease).
"""

from __future__ import annotations

import fcntl
import itertools
import os
import stat
import tempfile
import threading

UID_BASE = 61000  # unprivileged users for commands when trajscope runs as root
UID_COUNT = 900
_LOCK = threading.Lock()
_next = itertools.count(os.getpid() % UID_COUNT)  # processes start apart: fewer tries


class NoUidLeft(RuntimeError):
    """Every uid of the range is leased."""


def _lease_dir() -> str:
    """A folder root owns and nobody else can write, made once (never a planted link)."""
    for parent in ("/run", tempfile.gettempdir()):
        path = os.path.join(parent, "trajscope-uids")
        try:
            os.mkdir(path, 0o700)
        except FileExistsError:
            pass
        except OSError:
            continue
        info = os.lstat(path)
        if stat.S_ISDIR(info.st_mode) and info.st_uid == 0 and not info.st_mode & 0o022:
            return path
    raise NoUidLeft("no folder only root can write, for the sandboxes' uid leases (/run or the temporary folder)")


class UidLease:
    """One uid, this process's until ``release`` (or the process's end)."""

    def __init__(self) -> None:
        folder = _lease_dir()
        for _ in range(UID_COUNT):
            with _LOCK:
                uid = UID_BASE + next(_next) % UID_COUNT
            fd = os.open(os.path.join(folder, str(uid)), os.O_RDWR | os.O_CREAT | os.O_NOFOLLOW | os.O_CLOEXEC, 0o600)
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except OSError:
                os.close(fd)
                continue  # another sandbox (of this process or another) holds it
            self.uid, self._fd = uid, fd
            return
        raise NoUidLeft(f"all {UID_COUNT} sandbox uids ({UID_BASE}-{UID_BASE + UID_COUNT - 1}) are in use")

    def release(self) -> None:
        fd, self._fd = self._fd, -1
        if fd >= 0:
            os.close(fd)
