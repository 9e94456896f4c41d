"""Small modal dialogs of the live screen: re-sample at a node, edit an action."""

from __future__ import annotations

from dataclasses import dataclass

import orjson
from textual import on
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical
from textual.screen import ModalScreen
from textual.widgets import Button, Input, Label, Static, TextArea

from trajscope.engine.actions import ActionError, parse_tool_call
from trajscope.engine.search.commands import MAX_HINT, MAX_SAMPLES
from trajscope.engine.tree import Node
from trajscope.tui.settings import key_of


@dataclass
class Resample:
    n: int
    hint: str | None


class ResampleDialog(ModalScreen[Resample | None]):
    """How many new candidates to draw here, and an optional hint to the model."""

    BINDINGS = [Binding("escape", "cancel", "Cancel", id="resample.cancel")]

    def __init__(self, node: Node) -> None:
        super().__init__()
        self.node = node

    def compose(self) -> ComposeResult:
        where = "the first step" if self.node.parent is None else f"#{self.node.id} ({self.node.short(40)})"
        with Vertical(id="dialog", classes="dialog") as box:
            box.border_title = "Re-sample"
            yield Static(f"Draw new alternatives for {where}; each runs as a sibling.")
            yield Label("how many (1-8)")
            yield Input("2", id="resample-n", type="integer", max_length=1)
            yield Label("hint to the model (optional)")
            yield Input(id="resample-hint", placeholder="e.g. the bug is in the parser, not the CLI",
                        max_length=MAX_HINT)
            yield Static(id="dialog-error", classes="dialog-error")
            with Horizontal(classes="dialog-buttons"):
                yield Button("Re-sample", variant="primary", id="ok")
                yield Button("Cancel", id="cancel")

    def on_mount(self) -> None:
        self.query_one("#resample-hint", Input).focus()

    @on(Input.Submitted)
    @on(Button.Pressed, "#ok")
    def _ok(self) -> None:
        raw = self.query_one("#resample-n", Input).value.strip()
        if not raw.isdigit() or not 1 <= int(raw) <= MAX_SAMPLES:
            self.query_one("#dialog-error", Static).update(f"how many: a number from 1 to {MAX_SAMPLES}")
            return
        hint = self.query_one("#resample-hint", Input).value.strip() or None
        self.dismiss(Resample(int(raw), hint))

    @on(Button.Pressed, "#cancel")
    def action_cancel(self) -> None:
        self.dismiss(None)


def action_text(action: dict) -> str:
    """What the edit box starts with: a bash command as it is, other tools as JSON arguments."""
    args = action.get("args") or {}
    if action.get("tool") == "bash":
        return str(args.get("command", ""))
    return orjson.dumps(args, option=orjson.OPT_INDENT_2).decode()


def parse_edited(tool: str, text: str) -> dict:
    """The edited action as a dict; ActionError says what is wrong."""
    if tool == "bash":
        if not text.strip():
            raise ActionError("the command is empty")
        return parse_tool_call("bash", {"command": text.strip()}).to_dict()
    try:
        args = orjson.loads(text)
    except orjson.JSONDecodeError as exc:
        raise ActionError(f"the arguments are not valid JSON: {exc}") from None
    return parse_tool_call(tool, args).to_dict()


class EditDialog(ModalScreen[dict | None]):
    """Edit a node's action; the result runs as a new sibling (a teacher label at that state)."""

    BINDINGS = [
        Binding("escape", "cancel", "Cancel", id="edit.cancel"),
        Binding("ctrl+s", "run", "Run as a sibling", id="edit.run"),
    ]

    def __init__(self, node: Node) -> None:
        super().__init__()
        self.node = node
        self.tool = (node.action or {}).get("tool") or "bash"

    def compose(self) -> ComposeResult:
        what = "the command" if self.tool == "bash" else f"the arguments of {self.tool} (JSON)"
        with Vertical(id="dialog", classes="dialog dialog-wide") as box:
            box.border_title = f"Edit #{self.node.id}"
            yield Static(f"Edit {what}; {key_of(self, 'edit.run')} runs it as a new sibling of #{self.node.id}.")
            yield TextArea(action_text(self.node.action or {}), id="edit-text",
                           language="bash" if self.tool == "bash" else "json", soft_wrap=True)
            yield Static(id="dialog-error", classes="dialog-error")
            with Horizontal(classes="dialog-buttons"):
                yield Button("Run as sibling", variant="primary", id="ok")
                yield Button("Cancel", id="cancel")

    def on_mount(self) -> None:
        self.query_one(TextArea).focus()

    @on(Button.Pressed, "#ok")
    def action_run(self) -> None:
        try:
            action = parse_edited(self.tool, self.query_one(TextArea).text)
        except ActionError as exc:
            self.query_one("#dialog-error", Static).update(str(exc))
            return
        self.dismiss(action)

    @on(Button.Pressed, "#cancel")
    def action_cancel(self) -> None:
        self.dismiss(None)
