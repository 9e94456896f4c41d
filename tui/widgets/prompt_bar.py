"""A one-line input at the bottom, for `/` search and `g` go-to."""

from __future__ import annotations

from dataclasses import dataclass

from textual.binding import Binding
from textual.message import Message
from textual.widgets import Input


class PromptBar(Input):
    """Asks for one value; posts ``PromptBar.Answered`` or hides itself on escape."""

    BINDINGS = [Binding("escape", "cancel", "Cancel", id="prompt.cancel")]

    @dataclass
    class Answered(Message):
        mode: str
        value: str

    def __init__(self, **kwargs) -> None:
        super().__init__(**kwargs)
        self.mode = ""

    def ask(self, mode: str, placeholder: str) -> None:
        self.mode = mode
        self.placeholder = placeholder
        self.value = ""
        self.add_class("-visible")
        self.focus()

    def _close(self) -> None:
        self.remove_class("-visible")
        self.screen.focus_next("ActionTree")

    def action_cancel(self) -> None:
        self._close()

    def _on_input_submitted(self, event: Input.Submitted) -> None:
        event.stop()
        self._close()
        if self.value.strip():
            self.post_message(self.Answered(self.mode, self.value.strip()))
