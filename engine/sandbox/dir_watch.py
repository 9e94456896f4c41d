"""Which folders of a local sandbox's work tree had an entry made, removed or renamed since its
last restore, so that the next restore looks for what commands left in those folders only: a
walk of every folder costs what the repository's size costs (Django's 3,192 folders, ~40 ms on
every restore), whatever the command changed.

Linux's inotify reports a change to a folder's entries on the folder itself, whatever path,
link, descriptor or mount a process used to make it (the event belongs to the folder's inode),
and it says when it lost events (its queue overflowed). It also reports an entry whose mode (or
other metadata) changed, so that a restore gives those entries a fork's modes again
(host_files.reset_modes). A watch is kept on every folder that the
sandbox's opening or a restore leaves (tracked ones, and the base's ignored ones); a folder made, removed or moved in
since is read whole. Where a watch cannot be made (the user's limit on watches or on inotify
instances), where events were lost, or before the watch began, the caller walks the whole
tree as before: the watch may make a restore cheaper, never less thorough. A process has one
inotify instance for all its sandboxes and keeps a quarter of the user's watches at most, so
other programs of the user keep theirs. It holds no file's
content: git compares every tracked file's stat (its ctime included) with its index at each
step, which no command can set back.
"""

from __future__ import annotations

import ctypes
import errno
import os
import stat
import struct
import threading
from pathlib import Path

from trajscope.engine.sandbox.git_store import ALL_MARK, TRACKED_MARK

_IN_ATTRIB, _IN_MOVED_FROM, _IN_MOVED_TO, _IN_CREATE, _IN_DELETE = 0x4, 0x40, 0x80, 0x100, 0x200
_IN_DELETE_SELF, _IN_MOVE_SELF = 0x400, 0x800
_IN_Q_OVERFLOW, _IN_IGNORED, _IN_ONLYDIR, _IN_DONT_FOLLOW, _IN_ISDIR = 0x4000, 0x8000, 0x1000000, 0x2000000, 0x40000000
_ENTRIES = _IN_CREATE | _IN_DELETE | _IN_MOVED_FROM | _IN_MOVED_TO
_MASK = _ENTRIES | _IN_ATTRIB | _IN_DELETE_SELF | _IN_MOVE_SELF | _IN_ONLYDIR | _IN_DONT_FOLLOW
_EVENT = struct.Struct("iIII")

MAX_DIRTY = 2000
"""Folders past which a restore walks the whole tree instead (one walk is then cheaper)."""

WATCH_SHARE = 4
"""A process keeps at most 1/WATCH_SHARE of the user's inotify watches (``max_user_watches``): the
rest stays for the user's other programs (editors, file watchers); past it a sandbox walks."""


def _lib():
    # the process's own symbols (libc's inotify calls), without a search that starts programs
    return ctypes.CDLL(None, use_errno=True)


def _oserror() -> OSError:
    err = ctypes.get_errno()
    return OSError(err, os.strerror(err))


class _Inotify:
    """The one inotify instance of a process, which every sandbox's watch shares (a user may
    have 128 instances, all programs together): each watch belongs to one DirWatch, and what
    a drain reads goes to the watch's owner."""

    def __init__(self) -> None:
        self.lib = _lib()
        fd = self.lib.inotify_init1(os.O_NONBLOCK | os.O_CLOEXEC)
        if fd < 0:
            raise _oserror()
        self.fd = fd
        self.lock = threading.RLock()
        self.owners: dict[int, DirWatch] = {}
        try:
            limit = int(Path("/proc/sys/fs/inotify/max_user_watches").read_text())
        except (OSError, ValueError):
            limit = 8192
        self.budget = max(limit // WATCH_SHARE, 0)

    def add(self, owner: "DirWatch", path: bytes) -> int:
        if len(self.owners) >= self.budget:
            raise OSError(errno.ENOSPC, "this process's share of the inotify watches is used")
        wd = self.lib.inotify_add_watch(self.fd, path, _MASK)
        if wd < 0:
            raise _oserror()
        other = self.owners.get(wd)
        if other is not None and other is not owner:  # one folder, two sandboxes: never expected
            raise OSError(errno.EEXIST, "the folder is watched for another sandbox")
        self.owners[wd] = owner
        return wd

    def remove(self, wd: int) -> None:
        if self.owners.pop(wd, None) is not None:
            self.lib.inotify_rm_watch(self.fd, wd)

    def drain(self) -> None:
        """Hand every event read so far to the watch it belongs to."""
        with self.lock:
            while True:
                try:
                    data = os.read(self.fd, 1 << 16)
                except BlockingIOError:
                    return
                except InterruptedError:
                    continue
                except OSError:
                    for owner in set(self.owners.values()):
                        owner.lost = True
                    return
                at = 0
                while at + _EVENT.size <= len(data):
                    wd, mask, _cookie, size = _EVENT.unpack_from(data, at)
                    name = data[at + _EVENT.size : at + _EVENT.size + size].rstrip(b"\0")
                    at += _EVENT.size + size
                    if mask & _IN_Q_OVERFLOW:  # lost events: every watch of the process is blind
                        for owner in set(self.owners.values()):
                            owner.lost = True
                    elif (owner := self.owners.get(wd)) is not None:
                        if mask & _IN_IGNORED:
                            self.owners.pop(wd, None)
                        owner._event(wd, mask, name)


_shared: _Inotify | None = None
_shared_lock = threading.Lock()


def _after_fork() -> None:
    """A forked child starts without the parent's instance, and with a lock no thread of the
    parent can be holding (only the forking thread goes on in the child)."""
    global _shared, _shared_lock
    _shared, _shared_lock = None, threading.Lock()


os.register_at_fork(after_in_child=_after_fork)


def _instance() -> _Inotify:
    """The process's inotify instance (a forked child makes its own: the parent's is its own)."""
    global _shared
    with _shared_lock:
        if _shared is None:
            _shared = _Inotify()
        return _shared


class DirWatch:
    """inotify watches on the folders of the work tree at ``root`` (a real path, never a link)."""

    def __init__(self, root: str):
        self.root = root
        self._inotify = _instance()
        self.closed = False
        self._paths: dict[int, bytes] = {}  # watch -> folder, relative to root (b"" is the root)
        self._wds: dict[bytes, int] = {}
        self.dirty: set[bytes] = set()  # folders whose entries changed
        self.fresh: set[bytes] = set()  # folders made, removed or moved since: read whole
        self.lost = True  # nothing watched yet, or events lost: the next restore walks everything
        self.rules = False  # a .gitignore was made, removed or moved: a snapshot looks everywhere
        self.moded: set[bytes] = set()  # folders an entry of which had its mode (or other metadata) changed

    def close(self) -> None:
        with self._inotify.lock:
            for wd in list(self._paths):
                self._forget(wd)
            self.closed = self.lost = True

    def changed(self) -> tuple[set[bytes], set[bytes]] | None:
        """(folders whose entries changed, folders to read whole) since the last ``watch``; None
        where only a walk of the whole tree can tell."""
        with self._inotify.lock:
            self._inotify.drain()
            if self.lost or self.closed or len(self.dirty) + len(self.fresh) > MAX_DIRTY:
                return None
            return set(self.dirty), set(self.fresh)

    def modes_changed(self) -> tuple[set[bytes], set[bytes]] | None:
        """(folders an entry of which a command made, moved in or changed the mode of, folders to
        look at whole) since the last ``watch``; None where only a walk of the whole tree can
        tell. A mode set at creation (a umask, ``mkdir -m``) is an entry made; one set through
        a second name elsewhere cannot be (the sandbox makes no hard link: engine.sandbox.seccomp)."""
        with self._inotify.lock:
            self._inotify.drain()
            folders = self.dirty | self.moded
            if self.lost or self.closed or len(folders) + len(self.fresh) > MAX_DIRTY:
                return None
            return folders, set(self.fresh)

    def watch(self, full: bool) -> None:
        """After a restore (nothing else ran since it removed what commands left): forget the
        changes seen, and watch every folder there (``full``), or the folders made since the
        last watch and those whose watch went. Where a watch cannot be made (the user's limit on
        watches), every watch goes and none is tried again: each restore walks everything."""
        with self._inotify.lock:
            if self.closed:
                return
            self._inotify.drain()
            full = full or self.lost
            tops = [b""] if full else sorted(self.fresh | {p for p in self.dirty if p not in self._wds})
            if full:
                for wd in list(self._paths):
                    self._forget(wd)
            self.dirty.clear()
            self.fresh.clear()
            self.moded.clear()
            self.lost = self.rules = False
            root = os.fsencode(self.root)
            try:
                for top in tops:
                    if not _real_dir(root, top):
                        continue
                    # a stack, not os.walk (which recurses: a command can nest folders past
                    # Python's recursion limit); never into a link
                    stack = [top]
                    while stack:
                        rel = stack.pop()
                        self._add(rel)
                        with os.scandir(os.path.join(root, rel) if rel else root) as entries:
                            stack.extend(
                                rel + b"/" + e.name if rel else e.name
                                for e in entries
                                if e.is_dir(follow_symlinks=False)
                            )
            except OSError:
                self.close()
                return
            self._inotify.drain()  # the engine's own steps: nothing of a command's
            self.dirty.clear()
            self.fresh.clear()
            self.moded.clear()

    def _add(self, rel: bytes) -> None:
        path = os.path.join(os.fsencode(self.root), rel) if rel else os.fsencode(self.root)
        wd = self._inotify.add(self, path)
        old = self._paths.get(wd)
        if old is not None and old != rel:
            self._wds.pop(old, None)
        self._paths[wd] = rel
        self._wds[rel] = wd

    def _forget(self, wd: int) -> None:
        rel = self._paths.pop(wd, None)
        if rel is not None and self._wds.get(rel) == wd:
            del self._wds[rel]
        self._inotify.remove(wd)

    def _event(self, wd: int, mask: int, name: bytes) -> None:
        rel = self._paths.get(wd)
        if rel is None:
            return  # a watch already forgotten: its folder was marked when it went
        if mask & (_IN_IGNORED | _IN_DELETE_SELF | _IN_MOVE_SELF):
            # the folder went or moved: what is at its path now is unknown; its events from
            # where it moved to must not count for this path
            self.fresh.add(rel)
            if mask & _IN_IGNORED:
                self._paths.pop(wd, None)
                if self._wds.get(rel) == wd:
                    del self._wds[rel]
            else:
                self._forget(wd)
            return
        if mask & _IN_ATTRIB:
            # an entry's metadata (the folder itself, name empty, is an entry of its parent,
            # which hears it too; the root's own mode is looked at by every restore)
            if name:
                self.moded.add(rel)
            return
        if mask & _ENTRIES:
            self.dirty.add(rel)
            if name == b".gitignore":
                self.rules = True
            if mask & _IN_ISDIR:
                child = rel + b"/" + name if rel else name
                self.fresh.add(child)
                if (old := self._wds.get(child)) is not None:
                    self._forget(old)


def _real_dir(root: bytes, rel: bytes) -> bool:
    """Whether ``rel`` is a folder reached from ``root`` through folders only, never a link."""
    path = root
    for part in rel.split(b"/") if rel else ():
        path = os.path.join(path, part)
        try:
            if not stat.S_ISDIR(os.lstat(path).st_mode):
                return False
        except OSError:
            return False
    return True


def untracked_in(root: str, dirty: set[bytes], fresh: set[bytes], tracked: list[bytes]) -> list[bytes]:
    """What ``git ls-files -o --directory`` would list in the folders ``dirty`` (their entries)
    and ``fresh`` (all below them): paths relative to ``root``, a folder git does not track
    named once with a trailing slash. ``tracked``: the paths git's index holds below those
    folders. No folder is read through a link; OSError where one cannot be read."""
    children: dict[bytes, set[bytes]] = {}
    for path in tracked:
        parent, _, _name = path.rpartition(b"/")
        name = _name
        while True:
            kids = children.setdefault(parent, set())
            if name in kids:
                break
            kids.add(name)
            if not parent:
                break
            parent, _, name = parent.rpartition(b"/")
    base = os.fsencode(root)
    out: list[bytes] = []
    listed: set[bytes] = set()  # untracked folders: nothing below them is listed again

    def below_listed(rel: bytes) -> bool:
        while rel:
            if rel in listed:
                return True
            rel = rel.rpartition(b"/")[0]
        return False

    todo = [(p, False) for p in dirty] + [(p, True) for p in fresh]
    seen: set[bytes] = set()
    for rel, whole in sorted(todo, key=lambda item: (item[0].count(b"/"), item[0])):
        if (rel, whole) in seen or below_listed(rel) or not _real_dir(base, rel):
            continue
        stack = [(rel, whole)]
        while stack:
            folder, deep = stack.pop()
            seen.add((folder, deep))
            kids = children.get(folder, set())
            # a folder that cannot be read raises: only a walk of everything can tell then
            entries = list(os.scandir(os.path.join(base, folder) if folder else base))
            for entry in entries:
                name = os.fsencode(entry.name)
                child = folder + b"/" + name if folder else name
                is_dir = entry.is_dir(follow_symlinks=False)
                # a name the index tracks as a folder is untracked where it is a file or a link now
                if name not in kids or (child in children and not is_dir):
                    out.append(child + b"/" if is_dir else child)
                    if is_dir:
                        listed.add(child)
                elif is_dir and (deep or child in fresh) and (child, True) not in seen:
                    stack.append((child, True))
    return out


def folders_to_list(folders: set[bytes]) -> list[bytes]:
    """The folders to list git's tracked paths in: the root (every path) where naming them
    would make the script too long for one argument (Linux takes 128 KiB)."""
    return [b""] if sum(len(f) + 3 for f in folders) > 32 << 10 else sorted(folders)


def untracked_printed(
    repo_real: str, seen: tuple[set[bytes], set[bytes]] | None, printed: bytes
) -> tuple[list[bytes], set[bytes] | None]:
    """The untracked paths a restore script printed (``GitStore.restore``): all of them, or
    those found in the watched folders that changed and in the folders of changed paths; and
    the folders looked in (None: all of them)."""
    all_mark = ALL_MARK.encode() + b"\0"
    if seen is None:
        return printed.split(b"\0"), None
    if printed.startswith(all_mark):
        return printed[len(all_mark) :].split(b"\0"), None
    moved, _, tracked = printed.partition(TRACKED_MARK.encode() + b"\0")
    dirty = seen[0] | {path.rpartition(b"/")[0] for path in moved.split(b"\0") if path}
    return untracked_in(repo_real, dirty, seen[1], [p for p in tracked.split(b"\0") if p]), dirty | seen[1]


def prune_empty(root: str, folders: set[bytes], listed: list[bytes]) -> None:
    """Remove the folders left empty in ``folders``, above the paths ``listed`` and above them
    in turn, deepest first (never the root, never through a link): git keeps no empty folder,
    so no state holds one, and a walk of everything would have listed the highest one whole.
    A folder emptied this way held only what a command changed or a state git removed."""
    base = os.fsencode(root)
    todo = set(folders) | {p.rstrip(b"/").rpartition(b"/")[0] for p in listed if p and not p.startswith(b"/")}
    for folder in sorted(todo, key=lambda f: -f.count(b"/")):
        while folder and _real_dir(base, folder):
            path = os.path.join(base, folder)
            try:
                if os.listdir(path):
                    break
                os.rmdir(path)
            except OSError:
                break
            folder = folder.rpartition(b"/")[0]
