"""Greedy line filling."""

from __future__ import annotations

from linewrap.words import chop, words


def wrap(text: str, width: int = 70, indent: str = "", subsequent_indent: str = "",
         break_long_words: bool = True) -> list[str]:
    if width < 1:
        raise ValueError("width must be at least 1")
    lines: list[str] = []
    current: list[str] = []
    prefix = indent

    def flush() -> None:
        nonlocal current, prefix
        if current:
            lines.append(prefix + " ".join(current))
            current = []
            prefix = subsequent_indent

    for word in words(text):
        room = width - len(prefix)
        if break_long_words and len(word) > room and not current:
            *heads, word = chop(word, room)
            for head in heads:
                lines.append(prefix + head)
                prefix = subsequent_indent
        length = len(prefix) + len(" ".join(current + [word]))
        if current and length >= width:
            flush()
        current.append(word)
    flush()
    return lines


def fill(text: str, width: int = 70, **options) -> str:
    return "\n".join(wrap(text, width, **options))
