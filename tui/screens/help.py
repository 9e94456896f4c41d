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
    rows.append(
        (
            "├ #4 / ├ #5",
            "lines at one indent are steps one after another (a step with one child is not indented "
            "again); the indent grows only where a node has two or more children, one branch each",
        )
    )
    return rows


# Actions that give the key on to the next binding where they do not apply (Textual's
# SkipAction): their keys also do what a binding further on says. What they apply to.
FALLS_THROUGH = {"copy_text": "where text is selected"}


def _live_bindings(source, screen) -> list[tuple[Binding, list[str]]]:
    """(binding, the keys that reach it) for ``source``, as Textual looks them up: its classes'
    bindings merged, a subclass's key over its base's (the action tree's ``enter`` folds; Tree's
    ``Select`` and the containers' ``Scroll Up`` never run there), then the user's keymap (a
    rebound key leaves its old key to nothing). A binding whose action is switched off there
    takes no key (Textual passes the key on)."""
    bindings = source._bindings.copy()
    if screen.app._keymap:
        bindings.apply_keymap(screen.app._keymap)
    # the keys of a row in the order its bindings declare them, a subclass's first
    declared = [
        k.strip()
        for cls in type(source).__mro__
        for b in cls.__dict__.get("BINDINGS", [])
        if isinstance(b, Binding)
        for k in b.key.split(",")
    ]
    out: dict[int, tuple[Binding, list[str]]] = {}
    for key, key_bindings in bindings.key_to_bindings.items():
        for binding in key_bindings:
            name = binding.action.split("(")[0]
            target = screen.app if name.startswith("app.") else screen if name.startswith("screen.") else source
            if not target.check_action(name.split(".")[-1], ()):
                continue
            out.setdefault(id(binding), (binding, []))[1].append(key)
            break
    rank = {key: i for i, key in reversed(list(enumerate(declared)))}

    def first(item: tuple[Binding, list[str]]) -> int:
        return min(rank.get(k, -1) for k in item[1])

    # a subclass's binding before its base's: its description names the row
    return sorted(((b, sorted(keys, key=lambda k: rank.get(k, -1))) for b, keys in out.values()), key=first)


def binding_rows(screen, with_actions: bool = False) -> list[tuple]:
    """(keys, description[, action]) for the bindings of a screen, the focused widget and what
    holds it, the action tree, and the app: one row an action, each key once, listed with the
    binding it runs. A key runs the first binding that takes it: priority bindings from the app
    down, then the others from the focused widget up to the app, as Textual looks them up."""
    widgets = []
    if screen.focused is not None:
        widgets = [w for w in screen.focused.ancestors_with_self if w is not screen and w is not screen.app]
    widgets += [tree for tree in screen.query("ActionTree") if tree not in widgets]
    sources = [screen.app, screen, *reversed(widgets)]
    live = {id(source): _live_bindings(source, screen) for source in sources}
    order = [(s, True) for s in sources] + [(s, False) for s in reversed(sources)]
    taken: dict[str, str] = {}  # key -> the action (of its source) that runs
    falls: dict[tuple[int, str], list[str]] = {}
    for source, priority in order:
        for binding, keys in live[id(source)]:
            if bool(binding.priority) != priority:
                continue
            for key in keys:
                if key in taken:
                    continue
                name = binding.action.split(".")[-1].split("(")[0]
                if name in FALLS_THROUGH:
                    falls.setdefault((id(source), binding.action), []).append(key)
                    continue
                taken[key] = f"{id(source)}:{binding.action}"
    rows: list[tuple] = []
    seen: set[str] = set()
    for source in sources:
        actions: dict[str, list[str]] = {}
        described: dict[str, Binding] = {}
        order = {}  # action -> the keys of its bindings, in their order
        for binding, keys in live[id(source)]:
            order.setdefault(binding.action, []).append(keys)
            name = binding.action.split(".")[-1].split("(")[0]
            runs = [k for k in keys if taken.get(k) == f"{id(source)}:{binding.action}"]
            if name in FALLS_THROUGH:
                runs = [k for k in falls.get((id(source), binding.action), []) if k not in taken]
            actions.setdefault(binding.action, []).extend(runs)
            if binding.description and binding.action not in described:
                described[binding.action] = binding
        for action, keys in actions.items():
            binding = described.get(action)
            if binding is None or action in seen:
                continue
            name = action.split(".")[-1].split("(")[0]
            also = falls.get((id(source), action), []) if name in FALLS_THROUGH else []
            also = [k for k in also if k in taken]  # keys that do something else where it does not apply
            if not keys and not also:
                continue  # every key of it runs another binding first
            seen.add(action)
            keys = sorted(dict.fromkeys(keys), key=lambda k: min(ks.index(k) for ks in order[action] if k in ks))
            display = ", ".join(source.app.get_key_display(Binding(k, action)) for k in keys)
            if source is screen.app:
                qualified = f"app.{action}"
            elif source is screen:
                qualified = action
            else:
                qualified = f"focused.{action}"
            description = binding.description
            if binding.tooltip:
                description += f" — {binding.tooltip}"
            if also:
                more = ", ".join(source.app.get_key_display(Binding(k, action)) for k in also)
                description += f" ({more} too, {FALLS_THROUGH[name]})"
            rows.append((display, description, qualified) if with_actions else (display, description))
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
