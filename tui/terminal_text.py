"""Text from files, models and people reaches the terminal as text, never as terminal codes.

Rich and Textual drop a few control characters from every text they draw (BEL, BS, VT, FF, CR)
and keep the rest: an ESC in a task's id, an action or a file name reached the terminal as
an escape sequence (an OSC set the terminal's title, ``ESC[8m`` hid what followed, OSC 52 writes
the clipboard where a terminal allows it). Their tables of what to drop are extended here, for
every text either draws (a ``rich.text.Text``, a Textual ``Content``): the other C0 controls but
tab and newline, DEL and the C1 controls each become U+FFFD, one character for one, so the text
keeps its length (styles that point into it stay where they were) and shows that something was
there. Their own output (colours, cursor moves) is written as control segments, not as text,
and is not touched.
"""

from __future__ import annotations

import re

SHOWN = "\ufffd"
CONTROLS = [*range(0x00, 0x07), *range(0x0E, 0x20), 0x7F, *range(0x80, 0xA0)]
"""Code points drawn as ``SHOWN`` (BEL, BS, VT, FF and CR are dropped by the libraries already)."""


def harden(table: dict[int, str | None]) -> None:
    for code in CONTROLS:
        table.setdefault(code, SHOWN)


def harden_rich() -> None:
    from rich import control

    harden(control._CONTROL_STRIP_TRANSLATE)


def harden_textual() -> None:
    from textual import content

    harden(content._CONTROL_STRIP_TRANSLATE)


def plain(text: str) -> str:
    """``text`` as the libraries now draw it: for a line printed without them (``print``)."""
    table = {code: SHOWN for code in CONTROLS}
    return text.translate(table)


# What a line printed on the terminal may hold besides text: the sequences Rich writes itself
# (colours and styles, SGR; its live displays' cursor moves, line erases and cursor hiding). Any
# other escape sequence (an OSC: the terminal's title, the clipboard; a report request, whose
# answer the terminal types into our input; DCS, APC, ...) and every other control character
# comes from what was printed, not from Rich (whose text is hardened above), and is drawn as
# U+FFFD.
_KEPT_CSI = re.compile(r"\x1b\[[0-9;?]*[mABCDGHJKlh]")
_SEQUENCE = re.compile(
    r"\x1b\[[0-?]*[ -/]*[@-~]"  # CSI
    r"|\x1b[\]PX^_][^\x07\x1b]*(?:\x07|\x1b\\)?"  # OSC, DCS, SOS, PM, APC (to BEL or ST)
    r"|\x1b[ -/]*[0-~]?"  # any other escape
    r"|[\x00-\x06\x0b\x0c\x0e-\x1f\x7f\x80-\x9f]"
)


def _shown(match: re.Match) -> str:
    return match.group() if _KEPT_CSI.fullmatch(match.group()) else SHOWN


class TerminalStream:
    """stdout or stderr of the command line: what is written passes ``_SEQUENCE``."""

    def __init__(self, stream):
        self._stream = stream

    def write(self, text: str) -> int:
        self._stream.write(_SEQUENCE.sub(_shown, text) if isinstance(text, str) else text)
        return len(text)

    def __getattr__(self, name):
        return getattr(self._stream, name)
