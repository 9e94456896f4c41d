"""Secrets never leave trajscope: API keys are cut out of everything it writes or prints.

A provider's error message may echo the key it was given; a model may be shown one.
What is redacted: the value of every environment variable whose name says it holds a
secret (``*_API_KEY``, ``*_TOKEN``, ``*_SECRET``, ...), every key given on the command
line (``register``), and anything shaped like a provider key (``sk-...``). The run log,
exports, the JSON results and every line on stdout and stderr pass through here.
"""

from __future__ import annotations

import os
import re
import threading
import time

MARK = "[redacted]"
_SECRET_NAME = re.compile(r"(API_?KEY|_KEY|TOKEN|SECRET|PASSWORD|PASSWD)$", re.IGNORECASE)
_SHAPED = r"\bsk-[A-Za-z0-9][A-Za-z0-9_\-]{11,}"
_MIN_LEN = 8  # shorter values are too likely to be ordinary words

_lock = threading.Lock()
_registered: set[str] = set()
_cache: dict[tuple, tuple] = {}  # secrets -> (str pattern, bytes pattern, bytes needles)
_current: list = [0.0, None]  # (when the environment was last read, its patterns)
REFRESH_S = 1.0
"""Seconds a reading of the environment's secrets is reused (every event is redacted:
scanning the environment each time cost more than the rest of writing the event)."""


def register(secret: str | None) -> None:
    """Redact ``secret`` from now on (a key given on the command line or in a config)."""
    if isinstance(secret, str) and len(secret.strip()) >= _MIN_LEN:
        with _lock:
            _registered.add(secret.strip())
            _current[0] = 0.0  # read again at the next use


def _secrets() -> tuple[str, ...]:
    found = {
        v.strip()
        for k, v in os.environ.items()
        if _SECRET_NAME.search(k) and len(v.strip()) >= _MIN_LEN and not k.startswith("TRAJSCOPE_")
    }
    with _lock:
        found |= _registered
    return tuple(sorted(found, key=lambda s: (-len(s), s)))


def _patterns() -> tuple:
    now = time.monotonic()
    when, pats = _current
    if pats is not None and now - when < REFRESH_S:
        return pats
    pats = _read_patterns()
    _current[0], _current[1] = now, pats
    return pats


def _read_patterns() -> tuple:
    key = _secrets()
    pats = _cache.get(key)
    if pats is None:
        text = "|".join([*(re.escape(s) for s in key), _SHAPED])
        pats = (re.compile(text), re.compile(text.encode()), (b"sk-", *(s.encode() for s in key)))
        if len(_cache) > 64:
            _cache.clear()
        _cache[key] = pats
    return pats


def redact(text: str) -> str:
    """``text`` with every secret replaced by ``[redacted]``."""
    if not text:
        return text
    return _patterns()[0].sub(MARK, text)


def has_secret(data: bytes) -> bool:
    # Substring search first (memchr-fast): the pattern can only match where a secret or
    # "sk-" occurs, and most events hold neither; the regex alternation scans every byte.
    pats = _patterns()
    return any(needle in data for needle in pats[2]) and pats[1].search(data) is not None


def scrub(value):
    """A copy of ``value`` (any JSON value) with every string redacted (iterative)."""
    pattern = _patterns()[0]
    sub = lambda s: pattern.sub(MARK, s)  # noqa: E731
    if isinstance(value, str):
        return sub(value)
    if not isinstance(value, (dict, list)):
        return value
    out = {} if isinstance(value, dict) else []
    work = [(value, out)]
    while work:
        src, dst = work.pop()
        items = src.items() if isinstance(src, dict) else enumerate(src)
        for k, v in items:
            if isinstance(v, str):
                v = sub(v)
            elif isinstance(v, (dict, list)):
                child = {} if isinstance(v, dict) else []
                work.append((v, child))
                v = child
            if isinstance(dst, dict):
                dst[sub(k) if isinstance(k, str) else k] = v
            else:
                dst.append(v)
    return out


class RedactingStream:
    """A text stream that redacts what is written to it (stdout and stderr of the CLI)."""

    def __init__(self, stream):
        self._stream = stream

    def write(self, text: str) -> int:
        self._stream.write(redact(text) if isinstance(text, str) else text)
        return len(text)

    def __getattr__(self, name):
        return getattr(self._stream, name)
