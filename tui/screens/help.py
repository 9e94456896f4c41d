"""The key help, generated from the bindings that are live, so it never drifts; keys a
user's keymap rebinds (tui/settings.py) are shown as rebound."""

from __future__ import annotations

from rich.table import Table
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import VerticalScroll
from textual.screen import ModalScreen
from textual.widgets import Static

from trajscope.tui.settings import key_of


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
            keys = ", ".join(source.app.get_key_display(Binding(k.strip(), binding.action))
                             for k in keymap.get(binding.id, binding.key).split(","))
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

    def __init__(self, rows: list[tuple[str, str]]) -> None:
        super().__init__()
        self.rows = rows

    def compose(self) -> ComposeResult:
        table = Table(box=None, expand=True, show_header=True, header_style="bold")
        table.add_column("key", no_wrap=True, ratio=1)
        table.add_column("what it does", ratio=3)
        for keys, description in self.rows:
            table.add_row(keys, description)
        with VerticalScroll(id="help-body") as body:
            body.border_title = "trajscope — keys"
            body.border_subtitle = f"{key_of(self, 'help.close')} to close"
            yield Static(table)
