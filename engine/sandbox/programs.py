"""The host programs the local sandbox runs (bubblewrap, setpriv, bash, git), each by one absolute path.

A program started by its bare name is looked up in a PATH, and the PATHs around the
engine hold folders its user can write: a virtual environment's ``bin/`` (where the
commands' PATH puts the Python's folder first), ``~/.local/bin``. A file left there
under the name ``bwrap`` by a ``--sandbox none`` agent or a package's install script
would be the one that runs, after the real bubblewrap passed the check, and every later
"confined" command would run unconfined. So each name is looked up once per process,
only in the system's folders (``SYSTEM_PATH``, or ``TRAJSCOPE_SYSTEM_PATH`` where
programs live elsewhere), a file or folder that someone other than root or the engine's
own user could change is passed over, and that one path is what is checked and what
runs, every time.
"""

from __future__ import annotations

import os
import stat
import threading

from trajscope.engine.sandbox.errors import SandboxError

SYSTEM_PATH = "/usr/bin:/bin:/usr/sbin:/sbin:/usr/local/bin:/usr/local/sbin"
"""Where host programs are looked for, in this order: the distribution's folders first."""

_LOCK = threading.Lock()
_FOUND: dict[tuple[str, str], tuple[str | None, str]] = {}


def search_path() -> list[str]:
    """The folders looked in: ``TRAJSCOPE_SYSTEM_PATH`` when set, else ``SYSTEM_PATH``."""
    value = os.environ.get("TRAJSCOPE_SYSTEM_PATH") or SYSTEM_PATH
    return [d for d in dict.fromkeys(value.split(os.pathsep)) if os.path.isabs(d)]


def trusted_path() -> str:
    """A PATH of the searched folders that only root or the engine's user can change, for the
    scripts the engine runs on the host (their git, stat, awk come from there and nowhere else)."""
    return os.pathsep.join(d for d in search_path() if os.path.isdir(d) and not untrusted(d)) or "/usr/bin:/bin"


def find(name: str) -> tuple[str | None, str]:
    """(the real path of ``name``, "") or (None, why not, to follow the name): the first file of that name in the
    searched folders that only root or the engine's user can change, found once per process."""
    folders = search_path()
    key = (name, os.pathsep.join(folders))
    with _LOCK:
        if key not in _FOUND:
            _FOUND[key] = _look(name, folders)
        return _FOUND[key]


def _look(name: str, folders: list[str]) -> tuple[str | None, str]:
    passed_over = []
    for folder in folders:
        candidate = os.path.join(folder, name)
        if not (os.path.isfile(candidate) and os.access(candidate, os.X_OK)):
            continue
        real = os.path.realpath(candidate)
        why = untrusted(real)
        if not why:
            return real, ""
        passed_over.append(why)
    if passed_over:
        return None, f"was found only where others than root could change it ({passed_over[0]})"
    where = ", ".join(folders[:-1]) + f" or {folders[-1]}" if len(folders) > 1 else "".join(folders)
    return None, f"is not installed in {where}"


def untrusted(path: str) -> str:
    """Why ``path`` (a real path) could be changed by someone other than root or the engine's
    user, or "": the file and every folder above it. A sticky folder (``/tmp``) counts as
    safe for the entries its other users do not own."""
    me = os.geteuid()
    current = path
    while True:
        try:
            st = os.stat(current)
        except OSError as exc:
            return f"{current}: {exc.strerror}"
        if st.st_uid not in (0, me):
            return f"{current} belongs to uid {st.st_uid}"
        writable = st.st_mode & (stat.S_IWGRP | stat.S_IWOTH)
        if writable and not (stat.S_ISDIR(st.st_mode) and st.st_mode & stat.S_ISVTX and current != path):
            return f"{current} is writable by others"
        parent = os.path.dirname(current)
        if parent == current:
            return ""
        current = parent


def require(name: str) -> str:
    """The real path of ``name`` (see ``find``), or the one sentence saying why there is none."""
    path, why = find(name)
    if path is None:
        raise SandboxError(f"{name} {why}")
    return path
