"""The one-line label of a tree node: id, kind, short action, score bar, status.

A label fits the cells its line has (the tree's width less the line's indent): what a person
reads the tree for (the status glyph, the id, the score, a submission's ✓/✗) stays on every
line, the action gets the cells left over, and the parts that repeat the glyph go first.
"""

from __future__ import annotations

from collections.abc import Callable

from rich.cells import cell_len
from rich.style import Style
from rich.text import Text

from trajscope.engine.actions import CRITICAL_KINDS
from trajscope.engine.tree import ROOT, Node

STATUS_GLYPHS = {
    "pending": "·",
    "running": "▶",
    "done": " ",
    "failed": "✗",
    "pruned": "✂",
    "promoted": "★",
    "submitted": "⇪",
}
ASKED_GLYPHS = {"resample": "↻", "edit": "✎"}  # after the id: a person asked for this node (Node.asked_by_person)
BAR_CELLS = 5
SPINNER = "⠋⠙⠹⠸⠼⠴⠦⠧⠇⠏"
MIN_ACTION = 12  # fewer cells of action than this and a less needed part makes room first
UNBOUNDED = 10_000  # no width given: the whole label (an action is one line, never this long on screen)
VERDICT_MARKS = {"resolved": "✓", "unresolved": "✗", "error": "!"}
VERDICT_WORDS = {"resolved": "✓ resolved", "unresolved": "✗ unresolved", "error": "! verification error"}
# Each layout, fullest first: (kind column, score bar, status words); the first whose fixed parts
# leave MIN_ACTION cells is used.
LAYOUTS = (
    (True, True, "full"),
    (True, True, "verdict"),
    (True, True, "mark"),
    (True, False, "mark"),
    (False, False, "mark"),
)


def score_bar(score: float) -> str:
    filled = round(score * BAR_CELLS)
    return "▰" * filled + "▱" * (BAR_CELLS - filled)


def score_class(score: float) -> str:
    return "reward-high" if score >= 0.66 else "reward-mid" if score >= 0.33 else "reward-low"


def status_words(node: Node, words: str) -> str:
    """What follows the score: ``full`` says the status in words (the glyph says it too), ``verdict``
    only a submission's verdict, ``mark`` only its ✓, ✗ or !."""
    status, verdict = node.status, node.verdict
    if words == "full":
        if status not in ("failed", "pruned", "promoted", "submitted", "running"):
            return ""
        return status + (f" {VERDICT_WORDS[verdict]}" if status == "submitted" and verdict else "")
    if status != "submitted" or verdict is None:
        return ""
    return VERDICT_WORDS[verdict] if words == "verdict" else VERDICT_MARKS[verdict]


def build_label(node: Node, style: Callable[[str], Style], width: int | None = None, frame: int = 0) -> Text:
    """The label in at most ``width`` cells (None: all of it); ``style(name)`` gives the theme's
    style for a component name; ``frame`` turns the spinner of a running node."""
    room = UNBOUNDED if width is None else max(0, width)
    if node.id == ROOT:
        text = Text.assemble(
            ("task ", style("muted")),
            (node.action["raw"] if node.action else "run", style("kind")),
            no_wrap=True,
            end="",
        )
        text.truncate(room, overflow="ellipsis")
        return text
    status, score = node.status, node.score
    glyph = SPINNER[frame % len(SPINNER)] if status == "running" else STATUS_GLYPHS.get(status, " ")
    asked = node.asked_by_person
    head = f"{glyph} #{node.id} " + (f"{ASKED_GLYPHS[asked]} " if asked else "")
    kind = f"{node.kind:<6} "
    action = node.short(min(room, UNBOUNDED))
    for with_kind, with_bar, words in LAYOUTS:
        score_text = "" if score is None else f"{score_bar(score)} {score:.2f}" if with_bar else f"{score:.2f}"
        word = status_words(node, words)
        fixed = (
            cell_len(head)
            + (len(kind) if with_kind else 0)
            + (2 + cell_len(score_text) if score_text else 0)
            + (2 + cell_len(word) if word else 0)
        )
        if fixed + min(cell_len(action), MIN_ACTION) <= room:
            break
    action_text = Text(action if room - fixed >= 2 else "")
    action_text.truncate(max(0, room - fixed), overflow="ellipsis")
    text = Text(no_wrap=True, end="")
    text.append(head[:2], style(status) if status != "done" else Style())
    text.append(head[2:], style("id"))
    if with_kind:
        text.append(kind, style("critical" if node.kind in CRITICAL_KINDS else "kind"))
    text.append_text(action_text)
    if score_text:
        text.append("  ")
        text.append(score_text, style(score_class(score)))
    if word:
        text.append(f"  {word}", style(status))
    if status == "pruned":
        text.stylize(style("pruned"))
    elif status == "promoted":
        text.stylize(style("promoted"))
    text.truncate(room)  # where even the fewest parts do not fit (a deep line in a narrow pane)
    return text
