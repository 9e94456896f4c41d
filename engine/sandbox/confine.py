"""Confining local commands: bubblewrap, privilege dropping, pids cgroups, killing.

The kernel never applies a process limit to root, so a root process confines
its commands with a pids cgroup (which also lets every process of a command be
killed), or, where no cgroup can be made, runs them as an unprivileged user.
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

UID_BASE = 61000  # unprivileged users for commands when trajscope runs as root
_BWRAP_LOCK = threading.Lock()
_BWRAP_STATE: dict[bool, tuple[bool, str]] = {}


def bwrap_status(as_other_user: bool = False) -> tuple[bool, str]:
    """(usable, why not) for bubblewrap, probed once per process and mode."""
    if os.environ.get("TRAJSCOPE_BWRAP", "1") == "0":
        return False, "bubblewrap is turned off (TRAJSCOPE_BWRAP=0)"
    with _BWRAP_LOCK:
        if as_other_user not in _BWRAP_STATE:
            _BWRAP_STATE[as_other_user] = _probe_bwrap(as_other_user)
        return _BWRAP_STATE[as_other_user]  # type: ignore[return-value]


def _probe_bwrap(as_other_user: bool) -> tuple[bool, str]:
    exe = shutil.which("bwrap")
    if not exe:
        return False, "bubblewrap (bwrap) is not installed"
    uid = UID_BASE + 999 if as_other_user else None
    caps = ["--cap-drop", "ALL"] if os.geteuid() == 0 and uid is None else []
    try:
        proc = subprocess.run([exe, *bwrap_flags("/"), *caps, "true"], capture_output=True, timeout=10,
                              preexec_fn=(lambda: drop_to(uid)) if uid else None)
    except (OSError, subprocess.TimeoutExpired) as exc:
        return False, f"bubblewrap does not start ({exc})"
    if proc.returncode != 0:
        err = proc.stderr.decode(errors="replace").strip().splitlines()
        return False, f"bubblewrap does not work here ({err[-1] if err else proc.returncode})"
    return True, ""


def bwrap_flags(chdir: str) -> list[str]:
    flags = ["--die-with-parent", "--unshare-net", "--unshare-pid", "--unshare-ipc",
             "--unshare-uts", "--ro-bind", "/", "/", "--dev", "/dev", "--proc", "/proc",
             "--tmpfs", "/tmp"]
    # A Python installed under /tmp (a virtual environment in a fresh clone) stays visible.
    for keep in dict.fromkeys([sys.prefix, sys.base_prefix]):
        if keep == "/tmp" or keep.startswith("/tmp/"):
            flags += ["--ro-bind", keep, keep]
    return [*flags, "--chdir", chdir]


def drop_to(uid: int | None) -> None:
    if uid is not None:
        os.setgroups([])
        os.setgid(uid)
        os.setuid(uid)


def pids_cgroup(name: str, limit: int) -> Path | None:
    """A fresh pids cgroup holding at most ``limit`` processes, or None."""
    for parent in (Path("/sys/fs/cgroup/pids"), Path("/sys/fs/cgroup")):
        if not (parent / "cgroup.procs").exists():
            continue
        group = parent / "trajscope" / name
        try:
            group.mkdir(parents=True, exist_ok=True)
            (group / "pids.max").write_text(str(limit))
            return group
        except OSError:
            shutil.rmtree(group, ignore_errors=True)
    return None


def reap_cgroups(tmp: Path) -> int:
    """Remove the cgroups of local sandboxes whose directory is gone (a killed run)."""
    reaped = 0
    for parent in (Path("/sys/fs/cgroup/pids/trajscope"), Path("/sys/fs/cgroup/trajscope")):
        if not parent.is_dir():
            continue
        for group in parent.iterdir():
            root_name = group.name.rsplit("-sb", 1)[0]
            if group.is_dir() and root_name.startswith("trajscope-") and not (tmp / root_name).exists():
                empty_cgroup(group)
                reaped += 1
    return reaped


def alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def empty_cgroup(group: Path) -> None:
    for _ in range(50):
        if not kill_cgroup_members(group):
            break
        time.sleep(0.01)
    try:
        group.rmdir()
    except OSError:
        pass


def count_processes(uid: int) -> int:
    n = 0
    for entry in os.scandir("/proc"):
        if entry.name.isdigit():
            try:
                if entry.stat().st_uid == uid:
                    n += 1
            except OSError:
                pass
    return n




def kill_cgroup_members(group: Path) -> int:
    """SIGKILL every process in ``group``; how many there were."""
    try:
        pids = [int(p) for p in (group / "cgroup.procs").read_text().split()]
    except OSError:
        return 0
    for pid in pids:
        try:
            os.kill(pid, signal.SIGKILL)
        except (ProcessLookupError, PermissionError):
            pass
    return len(pids)


def kill_group(pgid: int) -> None:
    try:
        os.killpg(pgid, signal.SIGKILL)
    except (ProcessLookupError, PermissionError):
        pass
