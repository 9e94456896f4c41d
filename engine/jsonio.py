"""Reading what users hand trajscope, as the standards allow and within bounds: JSON that
orjson refuses but is valid (a byte-order mark, lone surrogates, ``1e999``, nesting past
1024 levels), values cut to a depth anything can print, and input files that must be
regular and not too large (docs/security.md, "Bad input")."""

from __future__ import annotations

import json
import os
import stat
import sys
import threading
from pathlib import Path

import orjson

BOM = b"\xef\xbb\xbf"
DEEP_LIMIT = 100_000
"""Levels of nesting a JSON document may have (orjson stops at 1024; deep DARS trees pass it)."""

MAX_DEPTH = 100
"""Levels of nesting a value inside an event may keep; deeper parts are left out."""

_deep_lock = threading.Lock()
_stack_lock = threading.Lock()


def _repair(value):
    """``value`` with lone surrogates in its strings replaced (iterative: any depth)."""

    def fix(v):
        if isinstance(v, str):
            try:
                v.encode("utf-8")
            except UnicodeEncodeError:
                return v.encode("utf-8", "surrogatepass").decode("utf-8", "replace")
        return v

    root = [value]
    stack = [(root, 0)]
    while stack:
        container, key = stack.pop()
        v = container[key]
        if isinstance(v, dict):
            for k in list(v):
                fk = fix(k)
                if fk is not k:
                    v[fk] = v.pop(k)
                stack.append((v, fk))
        elif isinstance(v, list):
            stack.extend((v, i) for i in range(len(v)))
        else:
            container[key] = fix(v)
    return root[0]


def loads(data: bytes | str, deep: bool = True):
    """Parse JSON as the standard allows: what orjson refuses (a byte-order mark, a lone
    ``\\ud800``, ``1e999``, nesting past 1024 levels) is parsed again by the standard
    library, in a thread with a large stack when ``deep``; raises ValueError (or
    orjson.JSONDecodeError, a ValueError) when it is not JSON."""
    if isinstance(data, str):
        data = data.encode("utf-8", "surrogatepass")
    if data.startswith(BOM):
        data = data[3:]
    try:
        return orjson.loads(data)
    except orjson.JSONDecodeError as exc:
        first = exc
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError:
        raise first from None
    if not deep:
        try:
            return _repair(json.loads(text))
        except RecursionError:
            raise ValueError("nested too deeply") from None
    result: dict = {}

    def work() -> None:
        with _deep_lock:
            old = sys.getrecursionlimit()
            sys.setrecursionlimit(max(old, DEEP_LIMIT + 100))
            try:
                result["value"] = _repair(json.loads(text))
            except RecursionError:
                result["error"] = ValueError(f"nested more than {DEEP_LIMIT:,} levels deep")
            except ValueError as exc:
                result["error"] = exc
            finally:
                sys.setrecursionlimit(old)

    thread = threading.Thread(target=work, name="trajscope-json", daemon=True)
    with _stack_lock:  # the stack size is taken when a thread starts
        previous = threading.stack_size(512 << 20)
        try:
            thread.start()
        finally:
            threading.stack_size(previous)
    thread.join()
    if "error" in result:
        raise result["error"]
    return result["value"]


def shallow(value, depth: int = MAX_DEPTH):
    """``value`` with what is nested deeper than ``depth`` levels replaced by a note, so
    that anything kept in an event can be written, printed and shown (iterative)."""
    if not isinstance(value, (dict, list)):
        return value
    stack = [(value, 1)]
    deepest = 1
    while stack:
        v, d = stack.pop()
        deepest = max(deepest, d)
        if deepest > depth:
            break
        children = v.values() if isinstance(v, dict) else v
        stack.extend((c, d + 1) for c in children if isinstance(c, (dict, list)))
    if deepest <= depth:
        return value
    note = f"[nested more than {depth} levels; left out]"
    out = {} if isinstance(value, dict) else []
    work = [(value, out, 1)]
    while work:
        src, dst, d = work.pop()
        items = src.items() if isinstance(src, dict) else enumerate(src)
        for k, v in items:
            if isinstance(v, (dict, list)):
                if d >= depth:
                    v = note
                else:
                    child = {} if isinstance(v, dict) else []
                    work.append((v, child, d + 1))
                    v = child
            if isinstance(dst, dict):
                dst[k] = v
            else:
                dst.append(v)
    return out


def text_of(value) -> str:
    """A value as text for a person: strings as they are, the rest as (shallow) JSON."""
    if isinstance(value, str):
        return value
    if value is None:
        return ""
    try:
        return orjson.dumps(shallow(value), default=str).decode()
    except (TypeError, orjson.JSONEncodeError):
        return repr(type(value))


MAX_INPUT = 8 << 30
"""Bytes trajscope reads from one input file (a log, a trajectory)."""


class NotRegularFile(OSError):
    """An input that is not a regular file (a FIFO, a device, a socket) or is too large."""


def read_regular(path: str | Path, limit: int = MAX_INPUT) -> bytes:
    """The bytes of the regular file ``path``, read without waiting on a FIFO or a device
    and never past ``limit``; NotRegularFile (with a sentence for the user) otherwise."""
    fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK)
    try:
        st = os.fstat(fd)
        if not stat.S_ISREG(st.st_mode):
            if stat.S_ISDIR(st.st_mode):
                raise IsADirectoryError(21, "is a directory", str(path))
            raise NotRegularFile(f"{path} is not a regular file (a FIFO, a device or a socket)")
        if st.st_size > limit:
            raise NotRegularFile(f"{path} is larger than {limit:,} bytes")
        os.set_blocking(fd, True)
        whole = os.read(fd, st.st_size) if st.st_size else b""
        if len(whole) == st.st_size:  # one read: no second copy of a large file while joining chunks
            return whole
        chunks, size = [whole], len(whole)
        while size < st.st_size and (chunk := os.read(fd, min(1 << 24, st.st_size - size))):
            chunks.append(chunk)
            size += len(chunk)
        return b"".join(chunks)
    finally:
        os.close(fd)
