"""trajscope's terminal UI (Textual) and its command line."""

from trajscope.tui.terminal_text import harden_rich

harden_rich()  # every text Rich draws, here or in the app, is text (terminal_text.py)
