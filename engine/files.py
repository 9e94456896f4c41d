"""The one writer of files (docs/security.md, "Files trajscope writes").

Every file trajscope writes (run logs, exports, evaluation reports, a batch's own files,
datasets and weights) goes through here, because a writer that follows a symbolic link or
builds a path from a field of its input writes where someone else chose: a link planted at
the target name in a shared folder, or an ``instance_id`` of ``../../x``. What holds:

- a name made from an untrusted field (``safe_name``) is one plain component: no ``/``, no
  NUL or control character, no leading dot, at most ``NAME_LIMIT`` bytes, and a short hash of
  the field when it had to be changed or cut, so two fields never share a name;
- a ``Folder`` is resolved and opened once; every write names a single component directly in
  it (through its descriptor), so nothing is written outside it;
- a new file is created with ``O_EXCL | O_NOFOLLOW``; a file is appended to only when it is a
  regular file reached without a link; a file is replaced through a temporary of random name
  in the same folder (``O_EXCL | O_NOFOLLOW``, fsync, rename), and only when what it replaces
  is a regular file;
- a run log is locked (``flock``) while a process writes it, so a second writer is refused.

Never writing to an input is the callers' part: they pass a new name or their own output.
"""

from __future__ import annotations

import errno
import fcntl
import os
import re
import stat
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import BinaryIO
from trajscope.engine.errors import UserCausedError

NAME_LIMIT = 150
"""Bytes a name made from a field may have (a file system allows 255; room for suffixes)."""

_PLAIN = frozenset("._-+@=,")  # kept as they are, with letters and digits of any script


class WriteError(OSError, UserCausedError):
    """A file trajscope will not or cannot write; the message is one sentence for the user."""

    def __str__(self) -> str:
        return str(self.args[0]) if self.args else "cannot write"


class LogBusy(WriteError):
    """Another process (or another writer in this one) holds the file's lock."""

    pid: int | None = None  # the holder's process id, where /proc/locks tells it
    holder = "another process"  # who, in words: "process 123", "another writer in this process"


def safe_name(field: object, limit: int = NAME_LIMIT, fallback: str = "unnamed") -> str:
    """A file name made from an untrusted ``field``: letters, digits and ``._-+@=,`` kept,
    anything else (and ``..``) ``_``, no leading dot or dash, at most ``limit`` UTF-8 bytes; an 8-digit
    hash of the field is added whenever the name differs from it."""
    text = field if isinstance(field, str) else str(field)
    name = "".join(c if c.isalnum() or c in _PLAIN else "_" for c in text)
    name = re.sub(r"\.\.+", "_", name).lstrip(".-") or fallback
    if name == text and len(name.encode()) <= limit:
        return name
    import hashlib  # OpenSSL's: loaded where a name needs a tag, not at every start

    tag = "-" + hashlib.sha256(text.encode("utf-8", "surrogatepass")).hexdigest()[:8]
    return name.encode()[: max(1, limit - len(tag))].decode("utf-8", "ignore") + tag


def _why(exc: OSError, path: Path) -> str:
    if exc.errno == errno.ELOOP:
        return f"{path} is a symbolic link; trajscope does not write through links"
    if exc.errno == errno.EEXIST:
        return f"{path} already exists"
    if exc.errno == errno.EISDIR:
        return f"{path} is a directory, not a file"
    if exc.errno in (errno.ENXIO, errno.ENODEV):
        return f"{path} is not a regular file (a FIFO, a device or a socket)"
    return f"cannot write {path}: {exc.strerror or exc}"


def _kind(mode: int) -> str:
    if stat.S_ISLNK(mode):
        return "a symbolic link"
    if stat.S_ISDIR(mode):
        return "a directory"
    return "not a regular file (a FIFO, a device or a socket)"


class Folder:
    """A folder files are written directly in: resolved and opened once, never left."""

    def __init__(self, path: str | os.PathLike, create: bool = True) -> None:
        path = Path(path)
        try:
            if create:
                path.mkdir(parents=True, exist_ok=True)
            resolved = Path(os.path.realpath(path))
            self.fd = os.open(resolved, os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW)
        except OSError as exc:
            if exc.errno in (errno.ENOTDIR, errno.EEXIST):
                raise WriteError(f"{path} is not a directory") from None
            raise WriteError(_why(exc, path)) from None
        self.path = resolved

    @classmethod
    def _opened(cls, fd: int, path: Path) -> Folder:
        folder = cls.__new__(cls)
        folder.fd, folder.path = fd, path
        return folder

    def close(self) -> None:
        if self.fd >= 0:
            os.close(self.fd)
            self.fd = -1

    def lock(self) -> None:
        """An exclusive lock on the folder itself, held until it is closed (one writer of a
        batch's folder); LogBusy naming the holder if taken."""
        lock_file(self.fd, self.path)

    def __enter__(self) -> Folder:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def __del__(self) -> None:
        try:
            self.close()
        except (OSError, AttributeError):
            pass

    # -- names ---------------------------------------------------------------------------
    def child(self, name: str) -> Path:
        """The path of ``name`` in this folder; WriteError when it is not one plain component."""
        try:
            plain = (
                isinstance(name, str)
                and name not in ("", ".", "..")
                and "/" not in name
                and "\0" not in name
                and len(os.fsencode(name)) <= 255
            )
        except UnicodeEncodeError:
            plain = False
        if not plain:
            raise WriteError(f"{name!r} is not a file name trajscope writes in {self.path}")
        return self.path / name

    def _lstat(self, name: str) -> os.stat_result | None:
        try:
            return os.stat(name, dir_fd=self.fd, follow_symlinks=False)
        except FileNotFoundError:
            return None

    def check_target(self, name: str) -> Path:
        """``name``'s path if it is free or a regular file; WriteError if it is a link or anything else."""
        path = self.child(name)
        st = self._lstat(name)
        if st is not None and not stat.S_ISREG(st.st_mode):
            raise WriteError(f"{path} is {_kind(st.st_mode)}; trajscope writes only regular files")
        return path

    def folder(self, name: str) -> Folder:
        """The sub-folder ``name``, made if missing; WriteError if it is a link or a file."""
        path = self.child(name)
        try:
            os.mkdir(name, 0o777, dir_fd=self.fd)
        except FileExistsError:
            pass
        except OSError as exc:
            raise WriteError(_why(exc, path)) from None
        try:
            fd = os.open(name, os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW, dir_fd=self.fd)
        except OSError as exc:
            if exc.errno == errno.ENOTDIR:
                st = self._lstat(name)
                raise WriteError(f"{path} is {_kind(st.st_mode) if st else 'gone'}, not a folder") from None
            raise WriteError(_why(exc, path)) from None
        return Folder._opened(fd, path)

    # -- new files -----------------------------------------------------------------------
    def open_new(self, name: str, mode: int = 0o644) -> BinaryIO:
        """A new file ``name`` open for writing (``O_EXCL | O_NOFOLLOW``): never one that was there."""
        path = self.child(name)
        try:
            fd = os.open(name, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW, mode, dir_fd=self.fd)
        except FileExistsError:
            st = self._lstat(name)
            if st is not None and stat.S_ISLNK(st.st_mode):
                raise WriteError(f"{path} is a symbolic link; trajscope does not write through links") from None
            raise WriteError(f"{path} already exists") from None
        except OSError as exc:
            raise WriteError(_why(exc, path)) from None
        return os.fdopen(fd, "wb")

    def create(self, name: str, data: bytes = b"", mode: int = 0o644) -> Path:
        """Write ``data`` to the new file ``name`` (fsync'd); WriteError if the name is taken."""
        with self.open_new(name, mode) as fh:
            _write_all(fh, data, self.child(name))
        return self.child(name)

    def create_unique(self, stem: str, suffix: str, data: bytes = b"", mode: int = 0o644) -> Path:
        """Create ``stem + suffix``, else ``stem-2 + suffix``, ``stem-3`` ...: a name no other
        process can take at the same time (``O_EXCL``)."""
        for n in range(1, 10_000):
            name = f"{stem}{suffix}" if n == 1 else f"{stem}-{n}{suffix}"
            path = self.child(name)
            try:
                fd = os.open(name, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW, mode, dir_fd=self.fd)
            except FileExistsError:
                continue  # taken (by a file, a link or another process a moment ago): the next
            except OSError as exc:
                raise WriteError(_why(exc, path)) from None
            with os.fdopen(fd, "wb") as fh:
                _write_all(fh, data, path)
            return path
        raise WriteError(f"no free name for {stem}{suffix} in {self.path}")

    # -- existing files ------------------------------------------------------------------
    def open_append(self, name: str, create: bool = True, lock: bool = False) -> BinaryIO:
        """``name`` open for appending (and reading), made if missing and ``create``: refused
        when it is a link (even a dangling one), a folder, a FIFO or a device. ``lock``: an
        exclusive lock held until the file is closed, or LogBusy."""
        path = self.check_target(name)
        flags = os.O_RDWR | os.O_APPEND | os.O_NOFOLLOW | os.O_NONBLOCK | (os.O_CREAT if create else 0)
        try:
            fd = os.open(name, flags, 0o644, dir_fd=self.fd)
        except OSError as exc:
            raise WriteError(_why(exc, path)) from None
        try:
            st = os.fstat(fd)
            if not stat.S_ISREG(st.st_mode):  # swapped in after the check above
                raise WriteError(f"{path} is {_kind(st.st_mode)}; trajscope writes only regular files")
            os.set_blocking(fd, True)
            if lock:
                lock_file(fd, path)
        except BaseException:
            os.close(fd)
            raise
        return os.fdopen(fd, "ab")

    @contextmanager
    def replacing(self, name: str, mode: int = 0o644) -> Iterator[BinaryIO]:
        """Write ``name`` whole through a temporary of random name in this folder, then
        rename it over ``name`` (readers see the old file or the new, never half of one).
        Refused when ``name`` is a link, a folder, a FIFO or a device."""
        path = self.check_target(name)
        tmp = f".{name[:100]}.{os.urandom(8).hex()}.tmp"
        try:
            fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW, mode, dir_fd=self.fd)
        except OSError as exc:
            raise WriteError(_why(exc, path)) from None
        try:
            with os.fdopen(fd, "wb") as fh:
                yield fh
                fh.flush()
                os.fsync(fh.fileno())
            self.check_target(name)  # the narrowest window we can leave
            os.replace(tmp, name, src_dir_fd=self.fd, dst_dir_fd=self.fd)
            os.fsync(self.fd)
        except BaseException:
            try:
                os.unlink(tmp, dir_fd=self.fd)
            except FileNotFoundError:
                pass
            raise

    def replace(self, name: str, data: bytes, mode: int = 0o644) -> Path:
        """Replace ``name`` with ``data`` atomically (see ``replacing``)."""
        with self.replacing(name, mode) as fh:
            _write_all(fh, data, self.child(name))
        return self.child(name)


def _write_all(fh: BinaryIO, data: bytes, path: Path) -> None:
    try:
        fh.write(data)
        fh.flush()
        os.fsync(fh.fileno())
    except OSError as exc:
        raise WriteError(_why(exc, path)) from None


def lock_file(fd: int, path: str | os.PathLike) -> None:
    """An exclusive lock on ``fd``, held until it is closed; LogBusy naming the holder if taken."""
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        pid = _holder(fd)
        holder = (
            "another process"
            if pid is None
            else "another writer in this process"
            if pid == os.getpid()
            else f"process {pid}"
        )
        busy = LogBusy(f"{path} is being written by {holder}; wait for it to end or write elsewhere")
        busy.pid, busy.holder = pid, holder
        raise busy from None


def _holder(fd: int) -> int | None:
    """The process id holding the flock on ``fd``'s file, from /proc/locks (Linux); None if unknown."""
    st = os.fstat(fd)
    key = f"{os.major(st.st_dev):02x}:{os.minor(st.st_dev):02x}:{st.st_ino}"
    try:
        with open("/proc/locks", encoding="ascii", errors="replace") as fh:
            for line in fh:
                fields = line.split()
                if len(fields) > 5 and fields[1] == "FLOCK" and "->" not in line and fields[5] == key:
                    return int(fields[4])
    except (OSError, ValueError):
        pass
    return None


# -- a path given by the user: its folder, then one name in it ----------------------------
def _split(path: str | os.PathLike) -> tuple[Folder, str]:
    path = Path(path)
    if path.name in ("", ".", ".."):
        raise WriteError(f"{path} is not a file name")
    return Folder(path.parent), path.name


def write_new(path: str | os.PathLike, data: bytes = b"", mode: int = 0o644) -> Path:
    """Create the file ``path`` with ``data``; WriteError if anything is there already."""
    folder, name = _split(path)
    with folder:
        folder.create(name, data, mode)
    return Path(path)


def replace_file(path: str | os.PathLike, data: bytes, mode: int = 0o644) -> Path:
    """Replace (or create) the regular file ``path`` with ``data`` atomically."""
    folder, name = _split(path)
    with folder:
        folder.replace(name, data, mode)
    return Path(path)


@contextmanager
def replacing(path: str | os.PathLike, mode: int = 0o644) -> Iterator[BinaryIO]:
    """A file object whose content replaces ``path`` atomically when the block ends without error."""
    folder, name = _split(path)
    with folder, folder.replacing(name, mode) as fh:
        yield fh


def open_append(path: str | os.PathLike, create: bool = True, lock: bool = False) -> BinaryIO:
    """``path`` open for appending; see ``Folder.open_append``."""
    folder, name = _split(path)
    with folder:
        return folder.open_append(name, create, lock)


def create_unique(path: str | os.PathLike, data: bytes = b"") -> Path:
    """Create ``path``, or the first free ``<stem>-N<suffix>`` beside it (its last suffix kept)."""
    folder, name = _split(path)
    stem, dot, suffix = name.rpartition(".")
    with folder:
        made = folder.create_unique(stem, dot + suffix, data) if stem else folder.create_unique(name, "", data)
    return Path(path).with_name(made.name)  # as the caller wrote the folder


def check_target(path: str | os.PathLike) -> Path:
    """``path`` if it is free or a regular file; WriteError if it is a link or anything else."""
    path = Path(path)
    try:
        st = os.lstat(path)
    except FileNotFoundError:
        return path
    except OSError as exc:
        raise WriteError(_why(exc, path)) from None
    if not stat.S_ISREG(st.st_mode):
        raise WriteError(f"{path} is {_kind(st.st_mode)}; trajscope writes only regular files")
    return path
