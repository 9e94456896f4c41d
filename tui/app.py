"""The Textual application: stylesheet, bindings, commands and themes — nothing else."""

from __future__ import annotations

import gc
import sys

from textual.app import App
from textual.binding import Binding

from trajscope.themes import DEFAULT_THEME, DOMAIN_DEFAULTS, STYLESHEET, THEME_NAMES, textual_themes
from trajscope.tui.bridge import Source
from trajscope.tui.palette import BindingCommands
from trajscope.tui.screens.explorer import ExplorerScreen
from trajscope.tui.settings import env_theme, load_settings
from trajscope.tui.terminal_text import harden_textual

harden_textual()  # every text Textual draws is text (terminal_text.py)


class TrajscopeApp(App[None]):
    """Watch and steer tree search over coding-agent trajectories."""

    CSS_PATH = STYLESHEET
    TITLE = "trajscope"
    COMMANDS = App.COMMANDS | {BindingCommands}
    # ctrl+c quits as q does (Textual's own ctrl+c only says which key quits): the command that
    # started the app then stops the search and prints its summary. A text field with a
    # selection copies it first. The palette's key is out of the bindings shown, because the
    # footer shows it once on its right.
    BINDINGS = [
        Binding("q,ctrl+c", "quit", "Quit", id="app.quit"),
        Binding("t", "cycle_theme", "Theme", id="app.theme"),
        Binding("ctrl+p", "command_palette", "Commands", show=False, id="app.palette"),
    ]

    def __init__(self, source: Source, theme: str | None = None) -> None:
        super().__init__()
        # What start-up imported lives as long as the process (modules, classes, Textual's
        # styles): a full collection walking all of it cost tens of milliseconds of the first
        # frame. Frozen, the collector no longer walks it (reference counting still frees what
        # is dropped); unfrozen when the app ends, so a process that runs apps in turn (the
        # tests) keeps nothing of the one before.
        gc.freeze()
        self.source = source
        source.prefetch()  # a file is read while the app starts (no other kind of source is)
        self.load_error: str | None = None  # set when the source cannot be read
        # The settings file (a bad one: one sentence here and on screen, and the defaults).
        self.settings, problem = load_settings(type(self))
        if problem:
            print(f"trajscope: {problem}", file=sys.stderr)
            self.notify(problem, title="settings not used", severity="error", timeout=15)
        self.set_keymap(self.settings.keymap)
        for theme_obj in textual_themes():
            self.register_theme(theme_obj)
        self.theme = theme or env_theme() or self.settings.theme or DEFAULT_THEME

    def on_unmount(self) -> None:
        gc.unfreeze()

    def _watch_theme(self, theme_name: str) -> None:
        if self.is_running:
            super()._watch_theme(theme_name)
            return
        # Set before the app runs (the constructor above): what Textual's watcher does, but
        # the refresh it schedules, which parsed every rule of the stylesheet a second time and
        # restyled every widget (10-17 ms of the first frame). Nothing is parsed yet: the first
        # parse takes this theme's variables.
        theme = self.current_theme
        classes = {name: False for name in self.classes if name.startswith("-theme-")}
        classes |= {f"-theme-{theme.name}": True, "-dark-mode": theme.dark, "-light-mode": not theme.dark}
        self.update_classes(classes, update=False)
        self._refresh_truecolor_filter(self.ansi_theme)
        self.stylesheet.set_variables(self.get_css_variables())

    def notify(self, message: str, *, title: str = "", severity="information", timeout=None, markup: bool = True):
        """Our notifications are plain text: none of ours is markup, and most name what a file, a
        task or a person typed (a search for ``[/b]`` raised Textual's MarkupError out of the app;
        ``[red]`` restyled the message). Textual's own (a screenshot saved) keep their markup."""
        caller = sys._getframe(1)
        if caller.f_code.co_name == "notify":  # a widget's or a screen's notify passes it on
            caller = caller.f_back
        ours = caller is None or not caller.f_globals.get("__name__", "").startswith("textual.")
        return super().notify(message, title=title, severity=severity, timeout=timeout, markup=markup and not ours)

    def get_theme_variable_defaults(self) -> dict[str, str]:
        return dict(DOMAIN_DEFAULTS)

    def on_mount(self) -> None:
        source = self.source
        if source.kind == "fleet":
            from trajscope.tui.screens.fleet import FleetScreen

            self.push_screen(FleetScreen(source.fleet))
        elif source.kind == "runs":
            from trajscope.tui.screens.run_list import RunsScreen

            self.push_screen(RunsScreen(source.refs, source.verdicts, str(source.path)))
        elif source.kind == "live":
            from trajscope.tui.screens.live import LiveScreen

            self.push_screen(LiveScreen(source))
        elif getattr(source, "launcher", None) is not None:  # an imported run opened with its task
            from trajscope.tui.screens.imported import ImportedExplorerScreen

            self.push_screen(ImportedExplorerScreen(source))
        else:
            self.push_screen(ExplorerScreen(source))

    def action_cycle_theme(self) -> None:
        index = THEME_NAMES.index(self.theme) + 1 if self.theme in THEME_NAMES else 0
        self.theme = THEME_NAMES[index % len(THEME_NAMES)]
        self.notify(f"theme: {self.theme}", timeout=1.5)
