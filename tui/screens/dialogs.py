"""Small modal dialogs of the live screen: re-sample at a node (how many, a hint), edit an action
(its command, or each argument of its tool in a field of its own)."""

from __future__ import annotations

from dataclasses import dataclass

import orjson
from rich.text import Text
from textual import on
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical
from textual.screen import ModalScreen
from textual.widgets import Button, Input, Label, Static, TextArea

from trajscope.engine.actions import TOOLS, ActionError, parse_tool_call
from trajscope.engine.search.commands import MAX_HINT, MAX_SAMPLES
from trajscope.engine.tree import Node
from trajscope.tui.settings import key_of


@dataclass
class Resample:
    n: int
    hint: str | None


class ResampleDialog(ModalScreen[Resample | None]):
    """How many new candidates to draw here, and an optional hint to the model.

    The fields take focus in the order they are shown (how many, then the hint, then the
    buttons), and enter in either field sends both: a hint typed where the focus starts is
    never lost to a field the person did not see first."""

    BINDINGS = [Binding("escape", "cancel", "Cancel", id="resample.cancel")]

    def __init__(self, node: Node) -> None:
        super().__init__()
        self.node = node

    def compose(self) -> ComposeResult:
        where = "the first step" if self.node.parent is None else f"#{self.node.id} ({self.node.short(40)})"
        with Vertical(id="dialog", classes="dialog") as box:
            box.border_title = "Re-sample"
            yield Static(
                Text(f"Draw new alternatives for {where}; each runs as a sibling marked ↻ (a person's request).")
            )
            yield Label(f"how many (1-{MAX_SAMPLES})")
            yield Input("2", id="resample-n", type="integer", max_length=1)
            yield Label("hint to the model (optional; tab or shift+tab moves between the fields)")
            yield Input(
                id="resample-hint", placeholder="e.g. the bug is in the parser, not the CLI", max_length=MAX_HINT
            )
            yield Static(id="dialog-error", classes="dialog-error")
            with Horizontal(classes="dialog-buttons"):
                yield Button("Re-sample", variant="primary", id="ok")
                yield Button("Cancel", id="cancel")

    def on_mount(self) -> None:
        self.query_one("#resample-n", Input).focus()  # its "2" is selected: a digit typed replaces it

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


ONE_LINE = frozenset({"path", "pattern"})
"""Text arguments that are a name or a pattern (one line); the others hold a file's text."""


def argument_fields(tool: str) -> list[tuple[str, str, str, bool]] | None:
    """(name, type, description, required) of each argument of a tool of TOOLS, in its order;
    None for a tool trajscope does not run (an imported one), edited as JSON."""
    for entry in TOOLS:
        function = entry["function"]
        if function["name"] == tool:
            params = function["parameters"]
            return [
                (name, spec["type"], spec["description"], name in params["required"])
                for name, spec in params["properties"].items()
            ]
    return None


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
    """Edit a node's action; the result runs as a new sibling (a teacher label at that state).

    A bash command is one text area; a tool's arguments are one field each (a path on one
    line, a file's text in a text area of its own lines, so a multi-line str_replace is
    its old and its new text as they are, not one JSON line of escapes)."""

    BINDINGS = [
        Binding("escape", "cancel", "Cancel", id="edit.cancel"),
        Binding("ctrl+s", "run", "Run as a sibling", id="edit.run"),
    ]

    def __init__(self, node: Node) -> None:
        super().__init__()
        self.node = node
        self.tool = (node.action or {}).get("tool") or "bash"
        self.fields = None if self.tool == "bash" else argument_fields(self.tool)

    def compose(self) -> ComposeResult:
        args = (self.node.action or {}).get("args") or {}
        if self.tool == "bash":
            what = "the command"
        elif self.fields is None:
            what = f"the arguments of {self.tool} (JSON)"
        else:
            what = f"the arguments of {self.tool}"
        with Vertical(id="dialog", classes="dialog dialog-wide") as box:
            box.border_title = Text(f"Edit #{self.node.id}")
            yield Static(Text(f"Edit {what}; {key_of(self, 'edit.run')} runs it as a new sibling of #{self.node.id}."))
            if self.fields is None or self.tool == "bash":
                yield TextArea(
                    action_text(self.node.action or {}),
                    id="edit-text",
                    language="bash" if self.tool == "bash" else "json",
                    soft_wrap=True,
                )
            elif not self.fields:
                yield Static(Text(f"{self.tool} takes no arguments."))
            for name, kind, description, required in self.fields or []:
                value = args.get(name)
                text = "" if value is None else str(value)
                yield Label(f"{name}: {description}" + ("" if required else " (optional)"))
                if kind == "string" and name not in ONE_LINE:
                    yield TextArea(text, id=f"arg-{name}", classes="edit-field", soft_wrap=True)
                else:
                    yield Input(text, id=f"arg-{name}", type="integer" if kind == "integer" else "text")
            yield Static(id="dialog-error", classes="dialog-error")
            with Horizontal(classes="dialog-buttons"):
                yield Button("Run as sibling", variant="primary", id="ok")
                yield Button("Cancel", id="cancel")

    def on_mount(self) -> None:
        first = self.query("#edit-text, .edit-field, Input")
        if first:
            first.first().focus()

    def edited(self) -> dict:
        """The action the fields say; ActionError says what is wrong."""
        if self.fields is None or self.tool == "bash":
            return parse_edited(self.tool, self.query_one("#edit-text", TextArea).text)
        args: dict = {}
        for name, kind, _description, required in self.fields:
            widget = self.query_one(f"#arg-{name}")
            if isinstance(widget, TextArea):
                args[name] = widget.text  # a file's text exactly as typed: whitespace is part of a match
                continue
            value = widget.value.strip()
            if not value:
                if required:
                    raise ActionError(f"{self.tool} needs {name}")
                continue
            if kind == "integer" and not value.lstrip("-").isdigit():
                raise ActionError(f"{name} must be a whole number")
            args[name] = value
        return parse_tool_call(self.tool, args).to_dict()

    @on(Button.Pressed, "#ok")
    def action_run(self) -> None:
        try:
            action = self.edited()
        except ActionError as exc:
            self.query_one("#dialog-error", Static).update(Text(str(exc)))
            return
        self.dismiss(action)

    @on(Button.Pressed, "#cancel")
    def action_cancel(self) -> None:
        self.dismiss(None)
