"""The Textual application: stylesheet, bindings, commands and themes — nothing else."""

from __future__ import annotations

import os

from textual.app import App
from textual.binding import Binding

from trajscope.themes import DOMAIN_DEFAULTS, STYLESHEET, THEMES
from trajscope.tui.bridge import Source
from trajscope.tui.commands import BindingCommands
from trajscope.tui.screens.explorer import ExplorerScreen


class TrajscopeApp(App[None]):
    """Watch and steer tree search over coding-agent trajectories."""

    CSS_PATH = STYLESHEET
    TITLE = "trajscope"
    COMMANDS = App.COMMANDS | {BindingCommands}
    BINDINGS = [
        Binding("q", "quit", "Quit", id="app.quit"),
        Binding("t", "cycle_theme", "Theme", id="app.theme"),
        Binding("ctrl+p", "command_palette", "Commands", id="app.palette"),
    ]

    def __init__(self, source: Source, theme: str | None = None) -> None:
        super().__init__()
        self.source = source
        if type(source) is Source:  # a file: read it while the app starts
            source.prefetch()
        self.load_error: str | None = None  # set when the source cannot be read
        for theme_obj in THEMES:
            self.register_theme(theme_obj)
        self.theme = theme or os.environ.get("TRAJSCOPE_THEME") or THEMES[0].name

    def get_theme_variable_defaults(self) -> dict[str, str]:
        return dict(DOMAIN_DEFAULTS)

    def on_mount(self) -> None:
        if getattr(self.source, "fleet", None) is not None:
            from trajscope.tui.screens.fleet import FleetScreen

            self.push_screen(FleetScreen(self.source.fleet))
        elif getattr(self.source, "refs", None) is not None:
            from trajscope.tui.screens.runs import RunsScreen

            self.push_screen(RunsScreen(self.source.refs, self.source.verdicts, str(self.source.path)))
        elif getattr(self.source, "session", None) is not None:
            from trajscope.tui.screens.live import LiveScreen

            self.push_screen(getattr(self.source, "screen_class", LiveScreen)(self.source))
        else:
            self.push_screen(ExplorerScreen(self.source))

    def action_cycle_theme(self) -> None:
        names = [t.name for t in THEMES]
        index = names.index(self.theme) + 1 if self.theme in names else 0
        self.theme = names[index % len(names)]
        self.notify(f"theme: {self.theme}", timeout=1.5)
