"""The live explorer: the tree of a search running in this process, and the controls to steer it.

Every control is a Session command (docs/architecture.md section 7), run in a worker thread through
``SessionBridge``; what it changes comes back as events, like everything else.
"""

from __future__ import annotations

from textual import work
from textual.binding import Binding
from textual.widgets import Input

from trajscope.engine.events import ReadCounts
from trajscope.engine.live import LiveSearch
from trajscope.engine.search.commands import MAX_BUDGET_STEP
from trajscope.engine.tree import ROOT
from trajscope.tui.bridge import LiveSource, SessionBridge, attach_live, detach_live
from trajscope.tui.messages import TreeLoaded
from trajscope.tui.screens.explorer import ExplorerScreen, navigation_bindings
from trajscope.tui.settings import key_of
from trajscope.tui.widgets.check_summary import status_words
from trajscope.tui.widgets.status_bar import StatusBar

SPIN_S = 0.12
CONTROLS = frozenset(
    {"pause", "resume", "resample", "edit", "prune", "undo_prune", "promote", "submit", "raise_budget"}
)
"""The actions that steer the search: a read-only source's screen refuses them (and hides their keys)."""


def prm_device(session: LiveSearch) -> str:
    for scorer in session.scorers:
        device = getattr(scorer, "device", None)
        if device is not None:
            return f"prm {scorer.name} {getattr(device, 'type', device)}"
    names = ",".join(s.name for s in session.scorers)
    return f"prm {names}" if names else "no prm"


def budget_text(session: LiveSearch) -> str:
    budget, tree = session.budget, session.tree
    used = budget.used(tree)
    parts = [f"nodes {used['nodes']}/{budget.nodes}" if budget.nodes else f"nodes {used['nodes']}"]
    if budget.tokens:
        parts.append(f"tokens {used['tokens'] / max(budget.tokens, 1):.0%} of budget")
    if budget.cost:
        parts.append(f"${used['cost']:.2f}/${budget.cost:g}")
    if budget.wall_s:
        parts.append(f"{used['wall_s']:.0f}/{budget.wall_s:g} s")
    return "budget " + " ".join(parts)


class LiveScreen(ExplorerScreen):
    """Watch the tree grow; pause, prune, re-sample, edit, promote, submit, raise the budget."""

    BINDINGS = [
        # one key, two faces: the footer says what space does now (check_action shows one of them)
        Binding(
            "space",
            "pause",
            "Pause",
            tooltip="pause the search: running steps finish, no new ones start",
            priority=True,
            id="live.pause",
        ),
        Binding("space", "resume", "Resume", tooltip="resume the paused search", priority=True, id="live.pause"),
        Binding(
            "r",
            "resample",
            "Re-sample",
            tooltip="draw n new alternatives here, with an optional hint",
            id="live.resample",
        ),
        Binding("e", "edit", "Edit", tooltip="edit the action and run it as a new sibling", id="live.edit"),
        Binding("p", "prune", "Prune", tooltip="prune this node and its subtree", id="live.prune"),
        Binding("u", "undo_prune", "Undo prune", tooltip="undo the last prune", id="live.undo_prune"),
        Binding(
            "P",
            "promote",
            "Promote",
            tooltip="promote this branch: DARS expands below it before anywhere "
            "else, and exports prefer it to its pruned siblings (it does not choose the submission)",
            id="live.promote",
        ),
        Binding(
            "s",
            "submit",
            "Submit",
            tooltip="the patch, the hidden tests with progress, the result, exports",
            id="live.submit",
        ),
        Binding("plus", "raise_budget", "Budget", tooltip="raise the budget by half", id="live.raise_budget"),
        Binding("f", "follow", "Follow", tooltip="follow the running frontier (on at start)", id="live.follow"),
        *navigation_bindings(show=False),  # the explorer's keys stay, out of the footer
    ]

    def __init__(self, source: LiveSource) -> None:
        super().__init__(source)
        self.session: LiveSearch = source.session
        self.bridge = SessionBridge(self, self.session)
        self.following = True
        self.pruned_stack: list[str] = []
        self.running: set[str] = set()
        self.told_finished: str | None = None
        self.auto_cursor: str | None = None  # where following last put the cursor
        self.shown_paused: bool | None = None  # what the footer's space says (pause or resume)

    def on_mount(self) -> None:
        super().on_mount()
        self.set_interval(SPIN_S, self._spin, name="spin")

    def on_unmount(self) -> None:
        super().on_unmount()
        detach_live(self.session, self.pump)

    @work(thread=True, exit_on_error=False, group="feed", description="attach to the search")
    def _load(self) -> None:
        self.post_message(TreeLoaded(attach_live(self.session, self.pump), ReadCounts(), "live search"))

    # -- live signs --------------------------------------------------------------------
    def after_drain(self, added: list[str], changed: set[str]) -> None:
        model = self.model
        for node_id in changed:
            requests = model.nodes[node_id].extra.get("branch_requests") or []
            if requests and requests[-1].get("result") and requests[-1].get("by") == "human":
                hint = requests[-1].get("hint")
                instead = f"a hint other than “{hint}”" if hint else "a hint"
                self.notify(
                    f"Re-sample at #{node_id}: {requests[-1]['result']}; try {instead}, or "
                    f"{key_of(self, 'live.edit')} to edit.",
                    severity="warning",
                    timeout=6,
                    markup=False,
                )
        for node_id in (*added, *changed):
            if model.nodes[node_id].status == "running":
                self.running.add(node_id)
            else:
                self.running.discard(node_id)
        if self.following:
            newest = (sorted(self.running, key=_order) or added or [None])[-1]
            if newest is not None and newest != self.tree.cursor_id:
                self.auto_cursor = newest
                self.tree.reveal(newest)

    def cursor_moved(self, node_id: str | None) -> None:
        # a stale highlight from an earlier jump finds the cursor on the latest one already
        if self.following and self.auto_cursor is not None and self.tree.cursor_id != self.auto_cursor:
            self.following = False  # a person moved the cursor: leave it where they put it

    def _spin(self) -> None:
        tree = self.tree
        tree.frame += 1
        for node_id in list(self.running):
            tree.refresh_node(node_id)
        if self.model is not None:
            self._update_status()
        if self.session.paused != self.shown_paused:  # paused here, by another viewer or by the fleet
            self.shown_paused = self.session.paused
            self.refresh_bindings()
        finished = self.session.finished if not self.session.busy else None
        if finished and finished != self.told_finished:
            self.told_finished = finished
            self.notify(f"The search ended: {finished}. s submits a node; + raises the budget.", timeout=6)

    def _update_status(self) -> None:
        if self.model is None:
            return
        session = self.session
        extra = [
            self.source.mode,
            budget_text(session),
            f"workers {session.busy}/{session.workers} busy",
            prm_device(session),
        ]
        if session.phase not in ("dars", session.strategy_name):  # past DARS's own limits
            extra.insert(2, f"phase {session.phase}")
        checks = status_words(self.model)  # the agent's own checks: part of the budget, so in sight
        if checks:
            extra.append(checks)
        if self.model.config.get("oracle") is True:  # --oracle: the hidden tests steer this search (recorded)
            extra.append("--oracle: hidden tests steer it")
        if self.following:
            extra.append("following")
        skipped = self.skipped + self.pump.counts.damaged + self.pump.counts.unknown
        self.query_one(StatusBar).show(
            self.model.stats(), "", skipped, extra=extra, sandbox=self.model.config.get("sandbox", "")
        )

    # -- controls ----------------------------------------------------------------------
    def check_action(self, action: str, parameters: tuple) -> bool | None:
        if action in CONTROLS and self.source.read_only:
            return False
        if action in ("pause", "resume"):
            if isinstance(self.focused, Input):
                return False  # a space typed into the search prompt is a space
            return self.session.paused == (action == "resume")
        return super().check_action(action, parameters)

    def _cursor(self, allow_root: bool = False) -> str | None:
        node_id = self.tree.cursor_id
        if node_id is None or (node_id == ROOT and not allow_root):
            self.notify("Move to a node first (the task itself has no action).", severity="warning")
            return None
        return node_id

    def action_pause(self) -> None:
        if self.session.paused:
            self.action_resume()
        else:
            self.bridge.call("pause", done="search paused: running steps finish, no new ones start")

    def action_resume(self) -> None:
        self.bridge.call("resume", done="search resumed")

    def action_prune(self) -> None:
        node_id = self._cursor()
        if node_id is None:
            return
        if self.model.nodes[node_id].status == "pruned":
            self.notify(f"#{node_id} is already pruned (u undoes the last prune).", severity="warning")
            return
        self.pruned_stack.append(node_id)
        self.bridge.call("prune", node_id, done=f"pruned #{node_id} and what grows below it (u to undo)")

    def action_undo_prune(self) -> None:
        while self.pruned_stack:
            node_id = self.pruned_stack.pop()
            if self.model.nodes[node_id].status == "pruned":
                self.bridge.call("unprune", node_id, done=f"#{node_id} is live again")
                self.tree.reveal(node_id)
                return
        self.notify("No prune to undo.", severity="warning")

    def action_promote(self) -> None:
        node_id = self._cursor()
        if node_id is not None:
            self.bridge.call("promote", node_id, done=f"promoted #{node_id}")

    def action_resample(self) -> None:
        from trajscope.tui.screens.dialogs import ResampleDialog

        node_id = self._cursor(allow_root=True)
        if node_id is None:
            return

        def chosen(answer) -> None:
            if answer is not None:
                hint = f" with the hint “{answer.hint}”" if answer.hint else ""
                self.following = False
                self.bridge.call(
                    "resample",
                    node_id,
                    n=answer.n,
                    hint=answer.hint,
                    done=f"re-sampling {answer.n} at #{node_id}{hint}",
                )

        self.app.push_screen(ResampleDialog(self.model.nodes[node_id]), chosen)

    def action_edit(self) -> None:
        from trajscope.tui.screens.dialogs import EditDialog

        node_id = self._cursor()
        if node_id is None:
            return

        def chosen(action) -> None:
            if action is not None:
                self.following = False
                self.bridge.call("edit", node_id, action, done=f"running your edit of #{node_id} as a sibling")

        self.app.push_screen(EditDialog(self.model.nodes[node_id]), chosen)

    def action_submit(self) -> None:
        from trajscope.tui.screens.submit import SubmitScreen

        node_id = self._cursor()
        if node_id is not None:
            self.following = False
            self.app.push_screen(SubmitScreen(self.model, node_id, self.session, export_dir=self.source.path.parent))

    def action_raise_budget(self) -> None:
        budget = self.session.budget
        deltas = {"nodes": max(10, (budget.nodes or 0) // 2)}
        if budget.tokens:
            deltas["tokens"] = budget.tokens // 2
        if budget.cost:
            deltas["cost"] = budget.cost / 2
        if budget.wall_s:
            deltas["wall_s"] = budget.wall_s / 2
        # a large budget's half would pass the step the engine takes at once: take the most it takes
        deltas = {name: min(value, MAX_BUDGET_STEP[name]) for name, value in deltas.items()}
        self.told_finished = None
        self.bridge.call(
            "raise_budget", **deltas, done="budget raised: " + ", ".join(f"{k} +{v:g}" for k, v in deltas.items())
        )

    def action_follow(self) -> None:
        self.following = not self.following
        self.auto_cursor = None
        self.notify("following the running frontier" if self.following else "stopped following", timeout=2)
        if self.following:
            self.after_drain([], set())
        self._update_status()


def _order(node_id: str) -> tuple[int, str]:
    digits = node_id.lstrip("n")
    return (int(digits), node_id) if digits.isdigit() else (0, node_id)
