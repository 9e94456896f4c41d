"""An imported run opened with its task: the explorer, with the steering keys on its steps.

`trajscope open RUN --task TASK` shows the run as the explorer does; on any step, `r`
re-samples it (with a hint), `e` edits its action, `s` submits its state and `S`
searches from it with the command's strategy and budget. The first of those rebuilds the
state in a sandbox (tui/branch_launcher.py: a worker, the status says so meanwhile) and
opens the live screen on the new search, whose log holds this run as its trunk; the live
screen's own keys then work on every node, imported ones included.
"""

from __future__ import annotations

from textual import work
from textual.binding import Binding

from trajscope.engine.errors import UserCausedError
from trajscope.engine.tree import ROOT
from trajscope.tui.bridge import LiveSource
from trajscope.tui.screens.explorer import ExplorerScreen


class ImportedExplorerScreen(ExplorerScreen):
    """The explorer of an imported run, from whose steps a person branches live."""

    BINDINGS = [
        Binding("r", "resample", "Re-sample", tooltip="draw new alternatives to this step, with a hint", id="imported.resample"),
        Binding("e", "edit", "Edit", tooltip="edit this step's action and run it as a new sibling", id="imported.edit"),
        Binding("s", "submit", "Submit", tooltip="verify the state at this step with the hidden tests", id="imported.submit"),
        Binding(
            "S",
            "search_here",
            "Search from here",
            tooltip="a search with the command's strategy and budget, starting at this step",
            id="imported.search_here",
        ),
    ]  # fmt: skip

    def __init__(self, source) -> None:
        super().__init__(source)
        self.launcher = source.launcher
        self.starting = False

    def _step(self):
        node_id = self.tree.cursor_id
        if node_id is None or node_id == ROOT:
            self.notify("Move to a step first (the task itself has no action).", severity="warning")
            return None
        if self.starting:
            self.notify("A branch is being started; wait for the live screen.", severity="warning", timeout=3)
            return None
        return node_id

    def action_resample(self) -> None:
        from trajscope.tui.screens.dialogs import ResampleDialog

        node_id = self._step()
        if node_id is not None:

            def chosen(answer) -> None:
                if answer is not None:
                    self._branch(node_id, "resample", n=answer.n, hint=answer.hint)

            self.app.push_screen(ResampleDialog(self.model.nodes[node_id]), chosen)

    def action_edit(self) -> None:
        from trajscope.tui.screens.dialogs import EditDialog

        node_id = self._step()
        if node_id is not None:

            def chosen(action) -> None:
                if action is not None:
                    self._branch(node_id, "edit", action=action)

            self.app.push_screen(EditDialog(self.model.nodes[node_id]), chosen)

    def action_submit(self) -> None:
        node_id = self._step()
        if node_id is not None:
            self._branch(node_id, "submit")

    def action_search_here(self) -> None:
        node_id = self._step()
        if node_id is not None:
            self._branch(node_id, "search")

    def _branch(self, node_id: str, act: str, **fields) -> None:
        self.starting = True
        self.notify(f"Rebuilding the state at step {node_id} in a sandbox…", timeout=4)
        self._start(node_id, act, fields)

    @work(thread=True, exit_on_error=False, group="branch", description="rebuild an imported step and branch")
    def _start(self, node_id: str, act: str, fields: dict) -> None:
        try:
            session = self.launcher.session_at(node_id, search=act == "search")
            if act == "resample":
                session.commands.resample(node_id, n=fields["n"], hint=fields["hint"])
            elif act == "edit":
                session.commands.edit(node_id, fields["action"])
            elif act == "submit":
                session.commands.submit(node_id)
        except UserCausedError as exc:
            self.app.call_from_thread(self._refused, str(exc))
            return
        self.app.call_from_thread(self._go_live, session, node_id)

    def _refused(self, why: str) -> None:
        self.starting = False
        self.notify(why, title="no branch", severity="error", timeout=12, markup=False)

    def _go_live(self, session, node_id: str) -> None:
        from trajscope.tui.screens.live import LiveScreen

        self.starting = False
        prefix = session.prefix
        if prefix is not None:
            self.notify(prefix.describe(), timeout=8, markup=False)
        self.app.push_screen(LiveScreen(LiveSource(session)))
