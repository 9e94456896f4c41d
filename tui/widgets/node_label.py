"""The one-line label of a tree node: id, kind, short action, score bar, status."""

from __future__ import annotations

from collections.abc import Callable

from rich.style import Style
from rich.text import Text

from trajscope.engine.actions import CRITICAL_KINDS
from trajscope.engine.tree import ROOT, Node

STATUS_GLYPHS = {
    "pending": "·", "running": "▶", "done": " ", "failed": "✗", "pruned": "✂",
    "promoted": "★", "submitted": "⇪",
}
ASKED_GLYPHS = {"resample": "↻", "edit": "✎"}  # after the id: a person asked for this node (Node.asked_by_person)
BAR_CELLS = 5
SPINNER = "⠋⠙⠹⠸⠼⠴⠦⠧⠇⠏"


def score_bar(score: float) -> str:
    filled = round(score * BAR_CELLS)
    return "▰" * filled + "▱" * (BAR_CELLS - filled)


def score_class(score: float) -> str:
    return "reward-high" if score >= 0.66 else "reward-mid" if score >= 0.33 else "reward-low"


def build_label(node: Node, style: Callable[[str], Style], action_width: int = 34, frame: int = 0) -> Text:
    """The label; ``style(name)`` gives the theme's style for a component name; ``frame`` turns
    the spinner of a running node."""
    if node.id == ROOT:
        return Text.assemble(("task ", style("muted")), (node.action["raw"] if node.action else "run",
                                                        style("kind")))
    text = Text(no_wrap=True, end="")
    status = node.status
    glyph = SPINNER[frame % len(SPINNER)] if status == "running" else STATUS_GLYPHS.get(status, " ")
    text.append(glyph + " ", style(status) if status != "done" else Style())
    text.append(f"#{node.id} ", style("id"))
    asked = node.asked_by_person
    if asked:
        text.append(f"{ASKED_GLYPHS[asked]} ", style("id"))
    text.append(f"{node.kind:<6} ", style("critical" if node.kind in CRITICAL_KINDS else "kind"))
    text.append(node.short(action_width))
    score = node.score
    if score is not None:
        text.append("  ")
        text.append(f"{score_bar(score)} {score:.2f}", style(score_class(score)))
    if status in ("failed", "pruned", "promoted", "submitted", "running"):
        word = status
        if status == "submitted" and node.verdict is not None:
            word += {"resolved": " ✓ resolved", "unresolved": " ✗ unresolved",
                     "error": " ! verification error"}[node.verdict]
        text.append(f"  {word}", style(status))
    if status == "pruned":
        text.stylize(style("pruned"))
    elif status == "promoted":
        text.stylize(style("promoted"))
    return text
