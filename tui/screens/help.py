"""The key help, generated from the bindings that are live, so it never drifts; keys a
user's keymap rebinds (tui/settings.py) are shown as rebound. Where the screen shows a tree,
a legend of its marks follows, built from the tables that draw them (node_label.py)."""

from __future__ import annotations

from rich.console import Group
from rich.table import Table
from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import VerticalScroll
from textual.screen import ModalScreen
from textual.widgets import Static

from trajscope.tui.settings import key_of
from trajscope.tui.widgets.node_label import ASKED_GLYPHS, STATUS_GLYPHS, score_bar, score_class

STATUS_MEANINGS = {
    "pending": "waiting to run",
    "running": "running now (it spins)",
    "failed": "its step failed (the sandbox, the model, or a bad action); why is in the detail pane",
    "pruned": "pruned by the PRM or a person: dimmed and struck through; why and its score in the detail pane",
    "promoted": "promoted by a person (P): bold; DARS expands below it first, exports prefer it to pruned siblings",
    "submitted": "submitted; then ✓ resolved, ✗ unresolved, or ! verification error (the tests could not say)",
}
ASKED_MEANINGS = {
    "resample": "after the id: drawn by a person's re-sample (r); the hint is in the detail pane",
    "edit": "after the id: a person's edit of a sibling's action (e), run as a new node",
}
SCORE_MEANINGS = {
    "reward-high": "the PRM's score, its estimate that this path resolves the task: 0.66 and up",
    "reward-mid": "0.33 to 0.66",
    "reward-low": "below 0.33",
}


def tree_legend() -> list[tuple[str, str]]:
    """(mark, what it means) for the marks of the tree's lines, from the tables that draw them."""
    rows = [(STATUS_GLYPHS[status], meaning) for status, meaning in STATUS_MEANINGS.items()]
    rows += [(ASKED_GLYPHS[asked], meaning) for asked, meaning in ASKED_MEANINGS.items()]
    rows += [(f"{score_bar(score)} {score:.2f}", SCORE_MEANINGS[score_class(score)]) for score in (0.8, 0.5, 0.2)]
    rows.append(("edit", "the action's kind; edit, append, create and submit are critical: DARS branches there"))
    return rows


def binding_rows(screen, with_actions: bool = False) -> list[tuple]:
    """(keys, description[, action]) for the bindings of a screen, its tree and the app."""
    keymap = screen.app.settings.keymap
    rows: list[tuple] = []
    seen: set[str] = set()
    sources = [screen.app, screen]
    sources += [w for w in screen.query("ActionTree")]
    for source in sources:
        inherited = [b for cls in type(source).__mro__ for b in cls.__dict__.get("BINDINGS", [])]
        for binding in inherited:
            if not isinstance(binding, Binding) or not binding.description:
                continue
            if binding.action in seen:
                continue
            if source is screen and screen.check_action(binding.action.split("(")[0], ()) is False:
                continue  # a key this screen has switched off (escape without a runs screen to go back to)
            seen.add(binding.action)
            keys = ", ".join(
                source.app.get_key_display(Binding(k.strip(), binding.action))
                for k in keymap.get(binding.id, binding.key).split(",")
            )
            if source is screen.app:
                action = f"app.{binding.action}"
            elif source is screen:
                action = binding.action
            else:
                action = f"focused.{binding.action}"
            description = binding.description
            if binding.tooltip:
                description += f" — {binding.tooltip}"
            rows.append((keys, description, action) if with_actions else (keys, description))
    return rows


class HelpScreen(ModalScreen[None]):
    """Every key, with what it does."""

    BINDINGS = [Binding("escape,q,question_mark", "dismiss", "Close help", id="help.close")]

    def __init__(self, rows: list[tuple[str, str]], legend: list[tuple[str, str]] | None = None) -> None:
        super().__init__()
        self.rows = rows
        self.legend = legend or []  # the tree's marks, where the screen shows a tree

    def compose(self) -> ComposeResult:
        table = Table(box=None, expand=True, show_header=True, header_style="bold")
        table.add_column("key", no_wrap=True, ratio=1)
        table.add_column("what it does", ratio=3)
        for keys, description in self.rows:
            table.add_row(keys, description)
        with VerticalScroll(id="help-body") as body:
            body.border_title = "trajscope — keys"
            body.border_subtitle = f"{key_of(self, 'help.close')} to close"
            if not self.legend:
                yield Static(table)
                return
            marks = Table(box=None, expand=True, show_header=True, header_style="bold")
            marks.add_column("in the tree", no_wrap=True, ratio=1)
            marks.add_column("means", ratio=3)
            for mark, meaning in self.legend:
                marks.add_row(Text(mark), meaning)
            yield Static(Group(table, Text(""), marks))
