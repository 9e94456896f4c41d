"""What the command line prints holds no terminal code but Rich's own styles, and every text
Rich or Textual draws is text (tui/terminal_text.py)."""

from __future__ import annotations

import io

from rich.console import Console
from rich.text import Text

from trajscope.tui.terminal_text import SHOWN, TerminalStream, plain

HOSTILE = "id \x1b]52;c;ZXZpbA==\x07 \x1b]0;title\x1b\\ \x1b[6n \x1bP1$r\x1b\\ \x9b2J \x1b[8mend\x00"


def test_a_printed_line_keeps_rich_styles_and_loses_every_other_code():
    out = io.StringIO()
    stream = TerminalStream(out)
    console = Console(file=stream, force_terminal=True, color_system="standard", width=80)
    console.print("[bold red]ok[/]")
    print(HOSTILE, file=stream)  # a plain print of what a file said
    first, second = out.getvalue().splitlines()
    assert first == "\x1b[1;31mok\x1b[0m"  # Rich's own colours
    # the clipboard (OSC 52), the title (OSC 0), a cursor report request, a DCS, a C1 CSI, a NUL
    assert second == f"id {SHOWN} {SHOWN} {SHOWN} {SHOWN} {SHOWN}2J \x1b[8mend{SHOWN}", repr(second)


def test_rich_text_draws_control_characters_as_a_mark_of_one_cell_each():
    text = Text("a\x1b[31mb\x9bc\td\ne", style="bold")
    assert text.plain == f"a{SHOWN}[31mb{SHOWN}c\td\ne" == plain("a\x1b[31mb\x9bc\td\ne")
    out = io.StringIO()
    Console(file=out, force_terminal=True, color_system="standard").print(Text("x\x1b]0;t\x07y"))
    assert "\x1b]" not in out.getvalue() and f"x{SHOWN}]0;ty" in out.getvalue()
