"""What a local sandbox and its forks share on the host, and how much of the disk its snapshot store may take.

Every saved state keeps the objects of what it changed, and one state may hold up to
the sandbox's disk limit: saving and leaving 900 MB three times cost the host 2.7 GB,
freed only when the session ended, so a search of N nodes could cost N GiB. The store
therefore has a limit of its own over the session (``STORE_MB`` beyond the base copy).

What a git step writes goes first to a quarantine folder of its own (git's
``GIT_OBJECT_DIRECTORY``, with the store as its alternate, so objects the store holds
are not written again). A snapshot's new objects are measured there, a walk of what
that one step added and never of the store, and moved in only while the session's
running total stays within the limit; otherwise they are dropped and the step fails in
one sentence. What a restore or a diff hashes only to compare is dropped with its
quarantine.
"""

from __future__ import annotations

import itertools
import os
import re
import shutil
import stat
import tempfile
from collections.abc import Iterator
from pathlib import Path

from trajscope.engine.sandbox.base import SandboxError, SharedState
from trajscope.engine.sandbox.confine import alive, reap_cgroups
from trajscope.engine.sandbox.dir_watch import _real_dir
from trajscope.engine.sandbox.programs import require

_HEX = re.compile(r"[0-9a-f]{40}|[0-9a-f]{64}")

STORE_MB = 4096
"""What the snapshots of one session may add to its store, beyond the base copy (MiB)."""


def store_limit(store_mb: int | None) -> int:
    """The store's limit in bytes: ``store_mb``, else ``TRAJSCOPE_STORE_MB``, else ``STORE_MB``."""
    if store_mb is None:
        value = os.environ.get("TRAJSCOPE_STORE_MB", "").strip() or str(STORE_MB)
        try:
            store_mb = int(value)
        except ValueError:
            store_mb = 0
        if store_mb <= 0:
            raise SandboxError(f"TRAJSCOPE_STORE_MB must be a whole number of MiB above 0, not {value!r}")
    return store_mb << 20


def reap_leftovers(base_dir: str | None = None) -> int:
    """Remove what local sandboxes of dead processes left: directories and cgroups."""
    tmp = Path(base_dir or tempfile.gettempdir())
    reaped = 0
    for root in tmp.glob("trajscope-*"):
        try:
            owner = int((root / "owner.pid").read_text())
        except (OSError, ValueError):
            continue
        if not alive(owner):
            remove_tree(root)
            reaped += 1
    if os.geteuid() == 0:
        reaped += reap_cgroups(tmp)
    return reaped


class LocalStore(SharedState):
    """What a root sandbox and its forks share: the directory, the snapshot store and its limit."""

    def __init__(self, base_dir: str | None, store_bytes: int):
        super().__init__()
        reap_leftovers(base_dir)
        self.root = Path(tempfile.mkdtemp(prefix="trajscope-", dir=base_dir))
        self.root.chmod(0o755)
        (self.root / "owner.pid").write_text(str(os.getpid()))
        # What only the engine may touch (the snapshot store, git's home, indexes, saved
        # outputs, quarantines) lives in a directory that no sandbox binds and no agent
        # user can enter.
        self.private = self.root / "engine"
        self.private.mkdir(mode=0o700)
        self.store = self.private / "store.git"
        (self.private / "home").mkdir(mode=0o700)
        self.size: tuple[int, int] = (0, 0)  # what the base copy takes: the disk quota's starting point
        # What git did not track at the base (build outputs made in place, ignored there): what
        # every restore keeps, held here, out of every work tree.
        self.base_untracked: frozenset[bytes] = frozenset()
        self.ignored = ""  # the tree of the base's ignored files (GitStore.save_ignored)
        self.limit = store_bytes
        self.used = 0  # bytes the snapshots' objects added to the store, a running total
        # states the store is known to hold (saved here, or restored once): a restore to one
        # skips git's check that it exists (the store is never pruned)
        self.known: set[str] = set()
        self._quarantines = itertools.count()

    def quarantine(self) -> Path:
        """A fresh, empty object folder for one git step, beside the store (one filesystem)."""
        folder = self.private / f"quarantine{next(self._quarantines)}"
        (folder / "objects").mkdir(parents=True)
        return folder

    def admit(self, quarantine: Path, commit: str = "", tree: str = "") -> int:
        """Move a snapshot's new objects into the store, counted, then file a new ``commit``
        under its ``tree``; SandboxError (nothing moved) when they would take the store past
        its limit. Returns their size in bytes."""
        loose, packs, size = _objects(quarantine / "objects")
        with self.lock:
            if self.used + size > self.limit:
                raise SandboxError(
                    f"the session's snapshot store is full: this state adds {size / (1 << 20):,.1f} MiB to the "
                    f"{self.used / (1 << 20):,.1f} MiB its saved states hold, past its limit of "
                    f"{self.limit >> 20:,} MiB (TRAJSCOPE_STORE_MB); this state is not saved"
                )
            self.used += size
            objects = self.store / "objects"
            try:
                for src in loose:
                    (objects / src.parent.name).mkdir(exist_ok=True)
                    os.replace(src, objects / src.parent.name / src.name)
                # A pack counts once its index is there: the index goes last.
                (objects / "pack").mkdir(exist_ok=True)
                for src in sorted(packs, key=lambda p: p.suffix == ".idx"):
                    os.replace(src, objects / "pack" / src.name)
                if commit:
                    self._file_ref(quarantine, commit, tree)
            except OSError as exc:
                raise SandboxError(f"snapshot store: cannot keep this state's objects ({exc.strerror})") from None
        return size

    def _file_ref(self, quarantine: Path, commit: str, tree: str) -> None:
        """``refs/trajscope/trees/<tree>`` names ``commit``: a loose ref, the store's format
        (made by ``git init``, never packed: gc is off), written whole and renamed into place,
        without a git process per snapshot."""
        if not (_HEX.fullmatch(commit) and _HEX.fullmatch(tree)):
            raise SandboxError(f"snapshot store: git printed {commit!r} {tree!r}, not a commit and its tree")
        refs = self.store / "refs" / "trajscope" / "trees"
        refs.mkdir(parents=True, exist_ok=True)
        (quarantine / "ref").write_text(commit + "\n")
        os.replace(quarantine / "ref", refs / tree)

    def release(self) -> bool:
        last = super().release()
        if last:
            remove_tree(self.root)
        return last


def _objects(folder: Path) -> tuple[list[Path], list[Path], int]:
    """(loose objects, pack files, bytes they take on disk) in a quarantine's object folder."""
    loose: list[Path] = []
    packs: list[Path] = []
    size = 0
    for entry in os.scandir(folder):
        if not entry.is_dir(follow_symlinks=False):
            continue
        if entry.name == "pack":
            wanted, into = (".pack", ".idx", ".rev"), packs
        elif len(entry.name) == 2:
            wanted, into = None, loose
        else:
            continue
        for item in os.scandir(entry.path):
            # git's temporary files (tmp_obj_*, tmp_pack_*) are left behind with the quarantine
            if item.name.startswith("tmp_") or not item.is_file(follow_symlinks=False):
                continue
            if wanted is None or item.name.endswith(wanted):
                into.append(Path(item.path))
                size += item.stat(follow_symlinks=False).st_blocks * 512
    return loose, packs, size


def remove_untracked(repo: str, listed: list[bytes], keep: frozenset[bytes]) -> int:
    """Remove the untracked paths ``listed`` (git's ``ls-files -o --directory``, relative to
    ``repo``) that are not in ``keep`` nor below a folder of it; a listed folder that holds
    kept paths is gone through entry by entry. Returns how many paths went.

    No command of the sandbox runs meanwhile (each one's processes are killed at its end), so
    nothing can swap a folder for a link between the listing and the removal."""
    root = os.fsencode(repo)
    kept_dirs = tuple(k for k in keep if k.endswith(b"/"))
    removed = 0
    todo = [p for p in listed if p]
    while todo:
        rel = todo.pop()
        if rel in keep or rel.startswith(kept_dirs):
            continue
        path = os.path.join(root, rel.rstrip(b"/"))
        if rel.endswith(b"/") and any(k.startswith(rel) for k in keep):
            with os.scandir(path) as entries:
                todo.extend(rel + e.name + (b"/" if e.is_dir(follow_symlinks=False) else b"") for e in entries)
            continue
        remove_path(path)
        removed += 1
    return removed


def remove_git_entries(repo: str) -> int:
    """Remove every entry named ``.git`` below ``repo`` (never through a link): no state holds
    one (the copy of the repository has none, git saves none), and git's own walk of the work
    tree skips them, so one a command made (a config or hooks for the agent's own git in a
    later branch) would stay. Returns how many went."""
    removed = 0
    stack = [os.fsencode(repo)]  # not os.walk, which recurses: folders may nest past Python's limit
    while stack:
        with os.scandir(stack.pop()) as entries:
            for entry in entries:
                if entry.name == b".git":
                    remove_path(entry.path)
                    removed += 1
                elif entry.is_dir(follow_symlinks=False):
                    stack.append(entry.path)
    return removed


GITFILE_LIMIT = 1 << 20  # git reads a gitfile (".git" naming the repository elsewhere) of at most 1 MiB
GIT_READS = (b".gitattributes", b".gitignore", b".gitmodules")  # the work tree's files git opens


def _special(mode: int) -> bool:
    """A FIFO, a socket or a device: what an open may wait on (git opens without O_NONBLOCK)."""
    return stat.S_ISFIFO(mode) or stat.S_ISSOCK(mode) or stat.S_ISCHR(mode) or stat.S_ISBLK(mode)


def _git_dir_hazard(gitdir: bytes) -> str | None:
    """Why git, asking whether ``gitdir`` is a repository, would wait or leave the work tree
    there: its HEAD (git reads a link's name, opens a file) a FIFO or another special file, or
    its commondir (opened and read wherever it is) anything but a file. lstat only."""
    try:
        if _special(os.lstat(os.path.join(gitdir, b"HEAD")).st_mode):
            return "has a HEAD git would wait on (a FIFO)"
    except OSError:
        pass
    try:
        common = os.lstat(os.path.join(gitdir, b"commondir")).st_mode
    except OSError:
        return None
    if stat.S_ISREG(common):
        return None
    return "has a commondir that is a link" if stat.S_ISLNK(common) else "has a commondir git would wait on (a FIFO)"


def _gitfile_hazard(base: bytes, folder: list[bytes], path: bytes) -> str | None:
    """The same of the folder a gitfile at ``path`` (in ``folder``, names below ``base``) names,
    read as git reads it (up to its first NUL, the line ends at its end stripped, a newline
    inside kept) and followed name by name: one that leaves the work tree or passes a link is a
    hazard in itself (git would resolve it in its own process, /proc/self included)."""
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK)
    except OSError:
        return None
    try:
        data = os.read(fd, GITFILE_LIMIT + 1)
    finally:
        os.close(fd)
    if len(data) > GITFILE_LIMIT:
        return None  # git refuses it as too large
    data = data.split(b"\0", 1)[0].rstrip(b"\r\n")
    if not data.startswith(b"gitdir: "):
        return None
    target = data[len(b"gitdir: ") :]
    if target.startswith(b"/"):
        if not target.startswith(base + b"/"):
            return "names a folder outside the work tree"
        folder, target = [], target[len(base) + 1 :]
    stack = list(folder)
    for name in target.split(b"/"):
        if name in (b"", b"."):
            continue
        if name == b"..":
            if not stack:
                return "names a folder outside the work tree"
            stack.pop()  # the name before it was checked a folder, not a link: the kernel goes there too
            continue
        stack.append(name)
        try:
            mode = os.lstat(os.path.join(base, *stack)).st_mode
        except (OSError, ValueError):
            return None  # nothing there: git finds no repository
        if stat.S_ISLNK(mode):
            return "names a folder through a link"
        if not stat.S_ISDIR(mode):
            return None
    return _git_dir_hazard(os.path.join(base, *stack))


def git_hazards(repo: str, seen: tuple[set[bytes], set[bytes]] | None) -> Iterator[tuple[bytes, str]]:
    """The entries below ``repo`` at which git would wait for ever (until the step's deadline)
    or follow the agent out of the work tree, and why: git asks of every untracked folder
    whether it is a nested repository and reads the HEAD and commondir of its ``.git`` (or of
    the folder a gitfile names) to tell, and opens the ``.gitattributes``, ``.gitignore`` and
    ``.gitmodules`` it meets; a FIFO there held every snapshot, diff and restore of the branch. A
    ``.git`` that is a link counts too. ``seen``: the folders the watch saw changed (their
    entries; everything below the second set), None for every folder. Paths relative to
    ``repo``; stat and a gitfile's own bytes only, never a path outside the work tree opened."""
    base = os.fsencode(repo)
    tops = [(b"", True)] if seen is None else [(d, False) for d in seen[0]] + [(f, True) for f in seen[1]]
    for top, deep in tops:
        if not _real_dir(base, top):
            continue  # gone, or a link on the way (never followed)
        stack = [top.split(b"/") if top else []]
        while stack:
            folder = stack.pop()
            try:
                entries = list(os.scandir(os.path.join(base, *folder)))
            except OSError:
                continue
            for entry in entries:
                name = os.fsencode(entry.name)
                if name != b".git" and name not in GIT_READS and not (deep and entry.is_dir(follow_symlinks=False)):
                    continue
                try:
                    mode = entry.stat(follow_symlinks=False).st_mode
                except OSError:
                    continue
                rel = b"/".join([*folder, name])
                if name == b".git":
                    why = (
                        "is a link, which git would follow"
                        if stat.S_ISLNK(mode)
                        else _git_dir_hazard(os.fsencode(entry.path))
                        if stat.S_ISDIR(mode)
                        else _gitfile_hazard(base, folder, os.fsencode(entry.path))
                        if stat.S_ISREG(mode)
                        else None
                    )
                    if why:
                        yield rel, why
                elif name in GIT_READS and _special(mode):
                    yield rel, "is a FIFO or another special file git would wait on"
                elif deep and stat.S_ISDIR(mode):
                    stack.append([*folder, name])


def shown_path(rel: bytes) -> str:
    """A path of the work tree for one line of text: what cannot be printed escaped."""
    return "".join(c if c.isprintable() else ascii(c)[1:-1] for c in rel.decode("utf-8", "backslashreplace"))


def remove_tree(path: str | os.PathLike) -> None:
    """``shutil.rmtree(path, ignore_errors=True)`` at any depth: shutil recurses once a folder,
    and a command can nest folders past Python's recursion limit (rm walks without recursing,
    and never into a link)."""
    try:
        shutil.rmtree(path, ignore_errors=True)
    except RecursionError:
        import subprocess

        subprocess.run([require("rm"), "-rf", "--one-file-system", "--", os.fspath(path)], timeout=600, check=False)


def remove_path(path: bytes | str) -> None:
    """Remove a file, link or folder (never what a link points to), even from a folder the
    agent made read-only: a path left behind would reach the next state."""

    def unlock(_func, failed, _exc) -> None:
        if not os.path.lexists(failed):
            return  # already gone: a folder removed after a retry below
        os.chmod(os.path.dirname(failed), 0o700, follow_symlinks=False)
        if os.path.isdir(failed) and not os.path.islink(failed):
            os.chmod(failed, 0o700, follow_symlinks=False)
            shutil.rmtree(failed, onerror=unlock)
        else:
            os.unlink(failed)

    try:
        if os.path.isdir(path) and not os.path.islink(path):
            try:
                shutil.rmtree(path, onerror=unlock)
            except RecursionError:
                remove_tree(path)
                if os.path.lexists(path):
                    raise SandboxError(f"restore: cannot remove {os.fsdecode(path)!r} (nested too deep)") from None
        else:
            os.unlink(path)
    except FileNotFoundError:
        pass
    except OSError as exc:
        raise SandboxError(f"restore: cannot remove {os.fsdecode(path)!r} ({exc.strerror})") from None
