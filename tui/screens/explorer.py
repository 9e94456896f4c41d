"""The explorer: the action tree on the left, the node detail on the right."""

from __future__ import annotations

import time

from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal
from textual.screen import Screen
from textual.widgets import Tree

from trajscope.engine.events import ReadCounts
from trajscope.engine.formats import FormatError, load
from trajscope.engine.tree import ROOT
from trajscope.engine.tree import Tree as Model
from trajscope.tui.bridge import (
    DRAIN_INTERVAL_S,
    EventPump,
    PartReader,
    Source,
    run_follow,
    run_replay,
    start_follow,
)
from trajscope.tui.messages import FlagsBuilt, LoadFailed, SearchFinished, TreeLoaded
from trajscope.tui.screens.flag_checkpoints import FlagCheckpoints
from trajscope.tui.screens.reading import ReadingInParts
from trajscope.tui.settings import key_of
from trajscope.tui.widgets.action_tree import ActionTree
from trajscope.tui.widgets.key_footer import KeyFooter
from trajscope.tui.widgets.node_detail import NodeDetail
from trajscope.tui.widgets.prompt_bar import PromptBar
from trajscope.tui.widgets.status_bar import StatusBar


DETAIL_MODES = ("shown", "narrow", "hidden")
# The fold of a file read in parts: a slice (READ_SLICE_S) as soon as keys and frames had their turn.
READ_INTERVAL_S = 0.005
FIRST_PART_WAIT_S = 0.25  # the longest the screen waits for a file's first part before saying "loading"


def navigation_bindings(show: bool = True) -> list[Binding]:
    """The explorer's keys to move around a tree; the live screen keeps them out of its
    footer (``show=False``) so its controls fit, and they still work there."""
    return [
        Binding("slash", "search", "Search", show=show, id="explorer.search"),
        Binding("n", "next_match(1)", "Next match", show=show, id="explorer.next_match"),
        Binding("N", "next_match(-1)", "Previous match", show=show, id="explorer.previous_match"),
        Binding("g", "goto", "Go to node", show=show, id="explorer.goto"),
        Binding("b", "best_leaf", "Best leaf", show=show, id="explorer.best_leaf"),
        Binding("left_square_bracket", "branch(-1)", "Previous branch", show=show, id="explorer.previous_branch"),
        Binding("right_square_bracket", "branch(1)", "Next branch", show=show, id="explorer.next_branch"),
        Binding("o", "observation", "Full observation", show=show, id="explorer.observation"),
    ]


class ExplorerScreen(ReadingInParts, FlagCheckpoints, Screen[None]):
    """Browse a run: navigate, search, jump to a node or the best leaf, follow or replay."""

    BINDINGS = [
        Binding("question_mark", "help", "Help", id="explorer.help"),
        *navigation_bindings(),
        Binding(
            "a",
            "raw_action",
            "Raw action JSON",
            show=False,
            tooltip="the action as the raw JSON it was recorded as, or as people read it (an edit as a diff)",
            id="explorer.raw_action",
        ),
        Binding(
            "c",
            "compare",
            "Compare",
            tooltip="compare two nodes side by side: mark one, then the other",
            id="explorer.compare",
        ),
        Binding(
            "d",
            "cycle_detail",
            "Detail",
            tooltip="the detail pane: shown, narrow, hidden (the tree takes the room its labels need)",
            id="explorer.detail",
        ),
        Binding("enter", "toggle_fold", "Fold / unfold", show=False, id="explorer.fold"),
        Binding("escape", "back", "Back", tooltip="to the runs or the batch this was opened from", id="explorer.back"),
    ]

    def __init__(self, source: Source) -> None:
        super().__init__()
        self.source = source
        self.model: Model | None = None
        self.flag_cache = None  # a FlagCache of the model, once it is loaded
        self.pump = EventPump()
        self.skipped = 0
        self.matches: list[str] = []
        self.match_index = -1
        self.feed_done = False
        self.compare_first: str | None = None
        self.told_sandbox = False  # the unconfined warning is said once
        self.detail = DETAIL_MODES[0]
        self.reader: PartReader | None = None  # the file's reader while its parts are still arriving
        self._after_read: list = []
        self.cut_short = ""  # the file could not be read to its end: what the status says  # what was asked of the whole tree while the file was read

    def compose(self) -> ComposeResult:
        with Horizontal(id="panes"):
            yield ActionTree(id="tree")
            yield NodeDetail(id="detail")
        yield PromptBar(id="prompt")
        yield StatusBar("loading…", id="status")
        yield KeyFooter()

    @property
    def tree(self) -> ActionTree:
        return self.query_one(ActionTree)

    def on_mount(self) -> None:
        self.reader = self.source.parts()
        if self.reader is not None:
            self.pump = self.reader.pump  # folded by _drain like a followed log's events
            # The first part is usually a few milliseconds away: waiting for it (a bounded
            # while, before anything is on screen) makes the first frame the tree's, not a
            # "loading" frame that costs as much to draw and is replaced at once.
            self.reader.first.wait(FIRST_PART_WAIT_S)
            if self.reader.tree is not None:  # read while the app started: shown in the first frame
                self._loaded(TreeLoaded(self.reader.tree, self.reader.counts, self.reader.format))
                return
        self.tree.loading = True
        self._load()

    def on_unmount(self) -> None:
        self.pump.stop.set()
        if self.reader is not None:
            self.reader.stop()
        if self.flag_cache is not None:
            self.flag_cache.cancelled = True

    # -- loading and the live feed ------------------------------------------------
    @work(thread=True, exit_on_error=False, group="feed", description="load the run")
    def _load(self) -> None:
        source, reader = self.source, self.reader
        try:
            if reader is not None:
                reader.first.wait()
                if reader.tree is None:
                    self.post_message(LoadFailed(reader.error or f"{source.path} could not be read"))
                else:
                    self.post_message(TreeLoaded(reader.tree, reader.counts, reader.format))
            elif source.follow:
                tree, follower = start_follow(source.path)
                self.post_message(TreeLoaded(tree, ReadCounts(), "runlog"))
                run_follow(follower, self.pump)
            elif source.replay:
                loaded = load(source.path)
                self.post_message(TreeLoaded(Model(), loaded.counts, loaded.format))
                run_replay(loaded.events, self.pump, source.replay)
                self.feed_done = True
            else:
                tree, counts, fmt = source.loaded()
                self.post_message(TreeLoaded(tree, counts, fmt))
        except FormatError as exc:
            self.post_message(LoadFailed(str(exc)))
        except OSError as exc:
            self.post_message(LoadFailed(f"{source.path} cannot be read: {exc.strerror or exc}"))

    @on(TreeLoaded)
    def _loaded(self, message: TreeLoaded) -> None:
        self.model = message.tree
        self.attached_at = time.perf_counter()  # when the tree went on screen (bench: first paint)
        if self.flag_cache is not None:  # a tree replaced: its checkpoints are no one's
            self.flag_cache.cancelled = True
        # made after the first frame (the flags' rules load then); until then a node's flags
        # are worked out from the task, as without checkpoints
        self.flag_cache = None
        self.skipped = message.counts.damaged + message.counts.unknown
        tree = self.tree
        tree.loading = False
        reading = self.reader is not None and not self.reader.complete
        tree.attach(self.model, reading=reading)
        tree.focus()
        self.app.sub_title = f"{self.model.title} · {message.source_format}"
        self._update_status()
        self._show_cursor()
        if self.skipped and not reading:  # else said once the file is read
            self.notify(f"{self.skipped} damaged or unknown line(s) were skipped", severity="warning")
        self.tell_sandbox_warning()
        if self.source.grows:
            self.set_interval(DRAIN_INTERVAL_S, self._drain, name="drain")
        elif reading:  # the rest of the file is folded as it is read, between keys, after the first frame
            self._read_timer = self.set_interval(READ_INTERVAL_S, self._drain, name="read", pause=True)
            self.call_after_refresh(self._read_timer.resume)
            self.call_after_refresh(self.reader.shown.set)
        else:  # a tree that will not change: every flag checkpoint, after the first paint
            self.reader = None
        self.call_after_refresh(self._flags_after_paint, self.model, build=not reading and not self.source.grows)

    @on(FlagsBuilt)
    def _flags_built(self) -> None:
        self._show_cursor()

    def tell_sandbox_warning(self) -> None:
        """Say once, plainly, when the run's commands ran unconfined (--sandbox none; see docs/security.md)."""
        if self.told_sandbox or self.model is None:
            return
        for command in self.model.commands:
            if command.get("name") == "sandbox_warning":
                self.told_sandbox = True
                self.notify(f"WARNING: {command.get('text')}", title="Sandbox", severity="error", timeout=20)
                return

    @on(LoadFailed)
    def _failed(self, message: LoadFailed) -> None:
        if self.source.can_go_back:  # one run of many: back to the list
            self.app.notify(message.reason, severity="error", timeout=10)
            self.app.pop_screen()
            return
        self.app.load_error = message.reason
        self.app.exit(return_code=2)

    def _drain(self) -> None:
        if self.reader is not None and self._reader_ended():
            return
        if self.model is None or not (len(self.pump) or self.reader is not None):
            return  # while a file is read, a tick with nothing to fold still adds the lines scrolled into view
        model, tree = self.model, self.tree
        added, changed = self.fold_pending()
        if (added or changed) and self.flag_cache is not None:
            self.flag_cache.forget()  # steps changed: checkpoints are rebuilt as the cursor needs them
        self.after_drain(added, changed)
        self.tell_sandbox_warning()
        for node_id in changed:
            tree.refresh_node(node_id)
        if ROOT in changed:
            self.app.sub_title = model.title
        if tree.cursor_id in changed or tree.cursor_node is None:
            self._show_cursor()
        if self.reader is None or self.status_due():
            self._update_status()

    def after_drain(self, added: list[str], changed: set[str]) -> None:
        """A batch of events was folded (the live screen follows the frontier from here)."""

    def _update_status(self) -> None:
        if self.model is None:
            return
        mode = self.reader.progress if self.reader is not None else self.cut_short or self.source.mode
        if self.source.replay and self.feed_done and not len(self.pump):
            mode = "replay finished"
        skipped = self.skipped + self.pump.counts.damaged + self.pump.counts.unknown
        self.query_one(StatusBar).show(self.model.stats(), mode, skipped, sandbox=self.model.config.get("sandbox", ""))

    # -- the detail pane ---------------------------------------------------------
    @on(Tree.NodeHighlighted)
    def _highlighted(self, event: Tree.NodeHighlighted) -> None:
        self.cursor_moved(event.node.data)
        if self._detail_drawn != self._detail_key():  # else drawn already (a tree attached draws its cursor's)
            self._show_cursor()

    def cursor_moved(self, node_id: str | None) -> None:
        """The cursor is on ``node_id`` now (the live screen stops following when a person moved it)."""

    _detail_drawn: tuple | None = None

    def _detail_key(self) -> tuple:
        """What the detail pane shows depends on: the node, the tree and what was folded into it,
        and the flags' cache."""
        model = self.model
        return (self.tree.cursor_id, model, model.version if model is not None else 0, self.flag_cache)

    def _show_cursor(self) -> None:
        if self.model is None:
            return
        self._detail_drawn = self._detail_key()
        node_id = self.tree.cursor_id
        self.query_one(NodeDetail).show(self.model.nodes.get(node_id) if node_id else None, self.model, self.flag_cache)

    # -- actions -----------------------------------------------------------------
    def check_action(self, action: str, parameters: tuple) -> bool | None:
        if action == "back":  # only a run opened from the runs or fleet screen has somewhere to go back to
            return self.source.can_go_back
        return True

    def action_back(self) -> None:
        self.app.pop_screen()

    def action_help(self) -> None:
        from trajscope.tui.screens.help import HelpScreen, binding_rows, tree_legend  # at first use: start-up

        self.app.push_screen(HelpScreen(binding_rows(self), tree_legend()))

    def action_compare(self) -> None:
        node_id = self.tree.cursor_id
        if self.model is None or node_id is None:
            return
        first = self.compare_first
        if first is None or first == node_id or first not in self.model.nodes:
            self.compare_first = node_id
            self.notify(
                f"Compare: #{node_id} marked — move to another node and press {key_of(self, 'explorer.compare')}.",
                timeout=3,
            )
            return
        from trajscope.tui.screens.compare import CompareScreen

        self.compare_first = None
        self.app.push_screen(CompareScreen(self.model, first, node_id))

    def action_cycle_detail(self) -> None:
        """The detail pane shown, narrow or hidden: the tree's labels follow the room it leaves."""
        self.detail = DETAIL_MODES[(DETAIL_MODES.index(self.detail) + 1) % len(DETAIL_MODES)]
        panes = self.query_one("#panes")
        for mode in DETAIL_MODES[1:]:
            panes.set_class(self.detail == mode, f"-detail-{mode}")
        self.notify(f"detail pane: {self.detail}", timeout=1.5)

    def action_toggle_fold(self) -> None:
        node = self.tree.cursor_node
        if node is not None and node.allow_expand:
            node.toggle()

    def action_search(self) -> None:
        self.query_one(PromptBar).ask("search", "search actions, thoughts and observations")

    def action_goto(self) -> None:
        self.query_one(PromptBar).ask("goto", "go to node id")

    @on(PromptBar.Answered)
    def _answered(self, message: PromptBar.Answered) -> None:
        if self.model is None:
            return
        if message.mode == "goto":
            node_id = message.value.lstrip("#")
            if node_id not in self.model.nodes and self.after_read(
                f"#{node_id} is not read yet; the cursor goes there", lambda: self._answered(message)
            ):
                return
            if not self.tree.reveal(node_id):
                self.notify(f"There is no node #{node_id}.", severity="error")
        elif message.mode == "search":
            if self.after_read("the search runs", lambda: self._answered(message)):
                return
            self._search(message.value, list(self.model.nodes.values()))

    @work(thread=True, exit_on_error=False, group="search", exclusive=True, description="search")
    def _search(self, query: str, nodes: list) -> None:
        self.post_message(SearchFinished(query, self.model.search(query, nodes)))

    @on(SearchFinished)
    def _searched(self, message: SearchFinished) -> None:
        self.matches = [m for m in message.hits if m != ROOT] or message.hits
        self.match_index = -1
        if not self.matches:
            self.notify(f"No node mentions “{message.query}”.", severity="warning")
            return
        self.notify(f"{len(self.matches)} node(s) mention “{message.query}” — n / N to step")
        self.action_next_match(1)

    def action_next_match(self, step: int) -> None:
        if not self.matches:
            self.notify(f"No search yet: press {key_of(self, 'explorer.search')} to search.", severity="warning")
            return
        self.match_index = (self.match_index + step) % len(self.matches)
        self.tree.reveal(self.matches[self.match_index])
        self.app.sub_title = f"match {self.match_index + 1} of {len(self.matches)}"

    def action_best_leaf(self) -> None:
        if self.after_read("the best leaf is found", self.action_best_leaf):
            return
        best = self.model.best_leaf() if self.model else None
        if best is None:
            self.notify("No leaf has a score yet.", severity="warning")
        else:
            self.tree.reveal(best)

    def action_branch(self, step: int) -> None:
        node_id = self.tree.cursor_id
        target = self.tree.sibling_branch(node_id, step) if node_id and self.model else None
        if target is None:
            self.notify("No other branch that way.", severity="information")
        else:
            self.tree.reveal(target)

    def action_raw_action(self) -> None:
        detail = self.query_one(NodeDetail)
        detail.raw_action = not detail.raw_action
        node_id = self.tree.cursor_id
        detail.show(self.model.nodes.get(node_id) if self.model and node_id else None, self.model, self.flag_cache)

    def action_observation(self) -> None:
        node_id = self.tree.cursor_id
        node = self.model.nodes.get(node_id) if self.model and node_id else None
        if node is None or not node.observation:
            self.notify("This node has no observation.", severity="warning")
            return
        from trajscope.tui.screens.observation import ObservationScreen  # at first use: start-up

        self.app.push_screen(ObservationScreen(node.id, node.observation))
