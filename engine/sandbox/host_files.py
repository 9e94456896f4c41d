"""The local sandbox's file tools, on the host, in a repository copy the agent controls.

Every path is resolved and must stay inside the repository; files are opened without
following a link or waiting on a FIFO that a command swapped in after the check; the
repository root itself must still be the directory the engine made, or nothing is
followed; and ownership is handed to the commands' user with ``lchown`` only.
"""

from __future__ import annotations

import os
import stat
from pathlib import Path

from trajscope.engine.sandbox.base import PathOutsideRepo, SandboxError, repo_path


def check_root(repo: str, repo_real: str) -> None:
    """The repository root must still be the directory the engine made: an agent that
    replaced it by a link (to ``/``) would otherwise steer the engine's file tools, git
    and chown to any host path. Such a branch's sandbox is unusable; nothing follows."""
    try:
        st = os.lstat(repo)
    except FileNotFoundError:
        raise SandboxError("the repository root was removed by a command") from None
    if not stat.S_ISDIR(st.st_mode) or os.path.realpath(repo) != repo_real:
        raise SandboxError("the repository root was replaced by a link or a file; the engine does not follow it")


def repair_root(repo: str, uid: int | None) -> None:
    """Before a restore: a repository root that a command removed or replaced (by a
    link, a file) is made an empty directory again, without following anything."""
    try:
        st = os.lstat(repo)
    except FileNotFoundError:
        st = None
    if st is not None and not stat.S_ISDIR(st.st_mode):
        os.unlink(repo)  # the link itself, never its target
        st = None
    if st is None:
        os.mkdir(repo, 0o755)
        if uid is not None:
            os.lchown(repo, uid, uid)


def resolve(path: str, repo: str, repo_real: str) -> str:
    """The real path of ``path``, which must lie inside the repository."""
    check_root(repo, repo_real)
    real = os.path.realpath(repo_path(path, repo))
    if real != repo_real and not real.startswith(repo_real + os.sep):
        raise PathOutsideRepo(f"{path} leads outside the repository")
    return real


def read_text(real: str, path: str, limit: int) -> str:
    """The text of a regular file of at most ``limit`` bytes (``path`` names it in errors)."""
    # No-follow and non-blocking: a link or a FIFO swapped in after the check is
    # refused, never followed or waited on.
    try:
        fd = os.open(real, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK)
    except FileNotFoundError:
        raise SandboxError(f"{path} does not exist") from None
    except OSError as exc:
        raise SandboxError(f"{path} cannot be read ({exc.strerror})") from None
    try:
        st = os.fstat(fd)
        if stat.S_ISDIR(st.st_mode):
            raise SandboxError(f"{path} is a directory")
        if not stat.S_ISREG(st.st_mode):
            raise SandboxError(f"{path} is not a regular file")
        if st.st_size > limit:
            raise SandboxError(f"{path} is larger than {limit:,} bytes; look at it with bash")
        chunks, size = [], 0
        while size <= limit and (chunk := os.read(fd, 1 << 20)):
            chunks.append(chunk)
            size += len(chunk)
        return b"".join(chunks)[:limit].decode("utf-8", errors="replace")
    finally:
        os.close(fd)


def write_text(real: str, path: str, text: str) -> None:
    """Replace the content of a regular file (made when missing) inside the repository."""
    if os.path.isdir(real):
        raise SandboxError(f"{path} is a directory")
    if os.path.lexists(real) and not stat.S_ISREG(os.lstat(real).st_mode):
        raise SandboxError(f"{path} is not a regular file")
    parent = os.path.dirname(real)
    os.makedirs(parent, exist_ok=True)
    if os.path.realpath(parent) != parent:
        raise PathOutsideRepo(f"{path} leads outside the repository")
    try:
        fd = os.open(real, os.O_WRONLY | os.O_CREAT | os.O_NOFOLLOW | os.O_NONBLOCK, 0o644)
    except OSError as exc:
        raise SandboxError(f"{path} cannot be written ({exc.strerror})") from None
    with os.fdopen(fd, "wb") as fh:
        if not stat.S_ISREG(os.fstat(fd).st_mode):
            raise SandboxError(f"{path} is not a regular file")
        fh.truncate(0)
        fh.write(text.encode("utf-8"))


def chown_tree(top: Path, uid: int, also: tuple[Path, ...] = ()) -> None:
    """``top`` (everything below it when it is a directory) and ``also`` become ``uid``'s,
    never through a link."""
    for where in (top, *also):
        if not where.exists():
            continue
        if where == top and stat.S_ISDIR(os.lstat(where).st_mode):
            for dirpath, dirnames, filenames in os.walk(where):
                for name in (*dirnames, *filenames):
                    os.lchown(os.path.join(dirpath, name), uid, uid)
        os.lchown(where, uid, uid)


def chown_paths(repo: str, paths: list[str], uid: int) -> list[str]:
    """Each of ``paths`` (relative to ``repo``) and the folders above it become ``uid``'s,
    walked one name at a time without following a link; a path that is gone is skipped.
    Returns the paths reached."""
    flags = os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW
    top = os.open(repo, flags)
    reached = []
    try:
        for path in paths:
            names = [n for n in path.split("/") if n not in ("", ".", "..")]
            fd = os.dup(top)
            try:
                for i, name in enumerate(names):
                    os.chown(name, uid, uid, dir_fd=fd, follow_symlinks=False)
                    if i < len(names) - 1:
                        inner = os.open(name, flags, dir_fd=fd)
                        os.close(fd)
                        fd = inner
                if names:
                    reached.append(path)
            except OSError:  # removed by the restore, or not a folder: nothing below to hand over
                pass
            finally:
                os.close(fd)
    finally:
        os.close(top)
    return reached


def git_mode(mode: int) -> int:
    """The permission bits git restores a file with: 755 where its owner may run it, else 644."""
    return 0o755 if mode & stat.S_IXUSR else 0o644


def empty_folders(top: str) -> set[str]:
    """The folders below ``top`` that hold no file nor link, at any depth (git keeps none of
    them); a repository's own ``.git`` is not looked into. Links are never followed."""
    held: set[str] = set()
    folders = []
    for here, dirs, files in os.walk(top):
        dirs[:] = [d for d in dirs if d != ".git"]  # os.walk never enters a link to a folder
        folders.extend(os.path.join(here, d) for d in dirs)
        if files or len(dirs) < len(os.listdir(here)):  # a file, a link to a folder, a .git
            held.add(here)
    for path in reversed(folders):  # the deepest first: a folder passes on what it holds
        if path in held or os.path.islink(path):
            held.add(os.path.dirname(path))
    return {p for p in folders if p not in held and not os.path.islink(p)}


def _drop_xattrs(path: str) -> None:
    """Remove the extended attributes the copy brought from the user's files (``copytree``
    copies them): a default access control list on a folder gave what git later wrote there
    modes of its own (0700, 0600), which no fork has. Never through a link."""
    try:
        names = os.listxattr(path, follow_symlinks=False)
    except OSError:  # a filesystem without them
        return
    for name in names:
        try:
            os.removexattr(path, name, follow_symlinks=False)
        except OSError:
            pass


def as_git_keeps(top: str) -> None:
    """Make a copied repository what git can save and restore, so that the first sandbox holds
    what a restore or a fork at the base holds: files 644, or 755 where the owner may run them
    (git keeps no other mode), folders 755, no empty folder (git keeps none), no extended
    attribute (an ACL). Links are never followed."""
    hollow = empty_folders(top)
    _drop_xattrs(top)
    os.chmod(top, 0o755)
    for here, dirs, files in os.walk(top):
        dirs[:] = [d for d in dirs if d != ".git"]
        for name in files:
            path = os.path.join(here, name)
            st = os.lstat(path)
            if stat.S_ISREG(st.st_mode):
                _drop_xattrs(path)
                os.chmod(path, git_mode(st.st_mode))
        for name in dirs:
            path = os.path.join(here, name)
            if not os.path.islink(path) and path not in hollow:
                _drop_xattrs(path)
                os.chmod(path, 0o755)
    for path in sorted(hollow, reverse=True):  # a folder's folders before it
        os.rmdir(path)


def _no_link_along(top: bytes, rel: bytes) -> bool:
    """Whether every name of ``rel`` below ``top`` is there and no link, and all but the last
    are folders: one lstat a name (realpath recurses once a link, and a command can chain
    more links than Python's recursion limit)."""
    names = rel.split(b"/")
    path = top
    for i, name in enumerate(names):
        if name in (b"", b".", b".."):
            return False
        path = os.path.join(path, name)
        try:
            st = os.lstat(path)
        except OSError:
            return False
        if stat.S_ISLNK(st.st_mode) or (i < len(names) - 1 and not stat.S_ISDIR(st.st_mode)):
            return False
    return True


def set_git_modes(repo: str, repo_real: str, listed: list[bytes]) -> None:
    """Give the regular files ``listed`` (relative to ``repo``, as git lists them) the mode git
    saves (``git_mode``). A path with a link anywhere along it is left alone: the engine may
    be root, and a folder an agent replaced by a link must not lead a chmod to a host file.
    No command of the sandbox runs meanwhile, so nothing can change a path once checked."""
    top = os.fsencode(repo_real)
    for rel in listed:
        if not rel or rel.endswith(b"/"):
            continue
        path = os.path.join(top, rel)
        if not _no_link_along(top, rel):
            continue  # a link on the way, or the name itself
        try:
            st = os.lstat(path)
        except OSError:
            continue  # deleted: it was listed as removed
        if stat.S_ISREG(st.st_mode) and stat.S_IMODE(st.st_mode) != git_mode(st.st_mode):
            os.chmod(path, git_mode(st.st_mode))


def reset_modes(top: str, folders: set[bytes] | None, whole: set[bytes] = frozenset(), files: bool = True) -> int:
    """Give what lies in the work tree at ``top`` (a real path) the modes a fork has: folders
    755, regular files 644 or 755 (``git_mode``); links and other kinds are left alone. The root
    itself and its entries always, the entries of ``folders`` (relative), everything below
    ``whole``; None: everything. git restores a file's run bit only, and no folder's mode: a
    folder a command made 500 denied the next branch's commands.

    Shallowest first, and a folder's own mode before its entries are read, so that an engine
    that is not root (its commands run as itself) can read what a command made unreadable.
    Never through a link: a folder is read only where every name on its way is a folder. No
    command of the sandbox runs meanwhile. ``files``: False, folders only. Returns how many modes
    it set."""
    base = os.fsencode(top)
    if folders is None:
        todo = [(b"", True)]
    else:
        marks = {f: False for f in folders} | {f: True for f in whole}
        marks[b""] = marks.get(b"", False)
        todo = sorted(marks.items(), key=lambda item: (item[0].count(b"/"), item[0]))
    count = 0
    read_whole: set[bytes] = set()  # the folders read with everything below them

    def below_read(rel: bytes) -> bool:
        while rel:
            rel = rel.rpartition(b"/")[0]
            if rel in read_whole:
                return True
        return False

    for rel, deep in todo:
        if rel in read_whole or below_read(rel) or (rel and not _no_link_along(base, rel)):
            continue  # read already, or a link on the way, or gone
        if deep:
            read_whole.add(rel)
        stack = [(rel, deep)]
        while stack:
            folder, all_below = stack.pop()
            path = os.path.join(base, folder) if folder else base
            try:
                st = os.lstat(path)
                if not stat.S_ISDIR(st.st_mode):
                    continue  # a folder a command replaced by a file or a link
                if stat.S_IMODE(st.st_mode) != 0o755:
                    os.chmod(path, 0o755)
                    count += 1
                entries = list(os.scandir(path))
            except OSError:
                continue  # gone
            for entry in entries:
                if not files and not entry.is_dir(follow_symlinks=False):
                    continue  # no stat of a file whose mode is not set now
                try:
                    mode = entry.stat(follow_symlinks=False).st_mode
                except OSError:
                    continue
                if stat.S_ISDIR(mode):
                    if all_below:  # its own mode is set as it is read
                        stack.append(
                            (os.path.join(folder, os.fsencode(entry.name)) if folder else os.fsencode(entry.name), True)
                        )
                    elif stat.S_IMODE(mode) != 0o755:
                        os.chmod(entry.path, 0o755)
                        count += 1
                elif files and stat.S_ISREG(mode) and stat.S_IMODE(mode) != git_mode(mode):
                    os.chmod(entry.path, git_mode(mode))
                    count += 1
    return count
