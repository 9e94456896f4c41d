"""Two nodes side by side: their paths, actions, observations, diffs, scores, and the agent's own
checks of their patches with why ``--select tests`` chose as it did."""

from __future__ import annotations

from rich.console import Group
from rich.syntax import Syntax
from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, VerticalScroll
from textual.screen import Screen
from textual.widgets import Footer, Static

from trajscope.engine.tree import Node, Tree
from trajscope.tui.widgets.check_summary import checks_text, selection
from trajscope.tui.widgets.text_clean import clean_text, preview

OBSERVATION_CHARS = 2500


def shared_prefix(tree: Tree, a: str, b: str) -> int:
    """How many steps the two paths share from the task down."""
    pa, pb = [n.id for n in tree.path(a)], [n.id for n in tree.path(b)]
    shared = 0
    for x, y in zip(pa, pb):
        if x != y:
            break
        shared += 1
    return shared


def column(tree: Tree, node: Node, shared: int, dark: bool, chosen: tuple | None = None) -> Group:
    syntax_theme = "ansi_dark" if dark else "ansi_light"
    parts: list = []
    title = Text(f"#{node.id} {node.kind} · depth {node.depth} · {node.status}", style="bold")
    if node.score is not None:
        title.append(f" · score {node.score:.2f}")
    if node.verified:
        if node.verdict == "error":
            title.append(" · verification error", style="bold yellow")
        else:
            title.append(
                " · resolved" if node.resolved else " · not resolved",
                style="bold green" if node.resolved else "bold red",
            )
    parts.append(title)
    path = Text("\npath\n", style="bold")
    for i, step in enumerate(tree.path(node.id)):
        mark = "  " if i < shared else "▸ "  # ▸ where this path leaves the other one
        path.append(f"{mark}#{step.id} {step.kind:<6} {step.short(40)}\n", style="dim" if i < shared else "")
    parts.append(path)
    if node.action:
        parts.append(Text("action", style="bold"))
        parts.append(Text(clean_text(str(node.action.get("raw") or node.action))))
    if node.thought.strip():
        parts.append(Text("\nthought", style="bold"))
        parts.append(Text(clean_text(node.thought)))
    if node.exit_code is None and not node.observation:
        parts.append(Text("\nobservation", style="bold"))
        parts.append(Text("not run", style="dim"))
    else:
        text, left_out = preview(node.observation, OBSERVATION_CHARS)
        parts.append(Text(f"\nobservation (exit {node.exit_code})", style="bold"))
        parts.append(Text(text + (f"\n… {left_out} more characters" if left_out else "")))
    parts.append(Text("\ndiff (the state here against the base)", style="bold"))
    patch = tree.patch_at(node.id)
    parts.append(
        Syntax(patch, "diff", theme=syntax_theme, word_wrap=True)
        if patch.strip()
        else Text("the base state: nothing on this path changed a file", style="dim")
    )
    if node.scores:
        scores = Text("\nscores\n", style="bold")
        for scorer, value in sorted(node.scores.items()):
            scores.append(f"{scorer} {value:.2f}")
            why = node.rationales.get(scorer)
            scores.append(f" — {why}\n" if why else "\n")
        parts.append(scores)
    if node.status_reason:
        parts.append(Text(f"\n{node.status} by {node.status_by or 'engine'}: {node.status_reason}"))
    checks = checks_text(tree, node.id, *(chosen or (None, None)))
    if checks is not None:
        parts.append(Text("\n") + checks)
    return Group(*parts)


class CompareScreen(Screen[None]):
    """``c`` on one node, then ``c`` on another."""

    BINDINGS = [
        Binding("escape,q,c", "app.pop_screen", "Back to the tree", id="compare.close"),
        Binding("x", "swap", "Swap sides", id="compare.swap"),
    ]

    def __init__(self, tree: Tree, a: str, b: str) -> None:
        super().__init__()
        self.model, self.a, self.b = tree, a, b

    def compose(self) -> ComposeResult:
        with Horizontal(id="compare-panes"):
            yield VerticalScroll(Static(id="compare-left"), id="compare-a")
            yield VerticalScroll(Static(id="compare-b-body"), id="compare-b")
        yield Footer()

    def on_mount(self) -> None:
        self._fill()

    def _fill(self) -> None:
        tree, dark = self.model, self.app.current_theme.dark
        shared = shared_prefix(tree, self.a, self.b)
        chosen = selection(tree) if tree.checked else None  # once for both columns
        for pane, body, node_id in (("#compare-a", "#compare-left", self.a), ("#compare-b", "#compare-b-body", self.b)):
            self.query_one(body, Static).update(column(tree, tree.nodes[node_id], shared, dark, chosen))
            self.query_one(pane).border_title = Text(f"#{node_id}")
        self.query_one("#compare-a").border_subtitle = f"{shared} step(s) in common"

    def action_swap(self) -> None:
        self.a, self.b = self.b, self.a
        self._fill()
