"""Many runs at once: one row per run of a folder or a multi-run file (``trajscope open DIR``).

The rows are listed from the paths alone (no file is parsed), so a thousand appear at
once; a worker then reads each run in turn and fills its row (steps, branch points,
submissions, verdict, cost, tokens, flags). Enter opens a run's tree (parsed again,
fully, when it opens); escape comes back here.
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass, field

from rich.text import Text
from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.message import Message
from textual.screen import Screen
from textual.widgets import DataTable, Input, Static

from trajscope.engine.formats import FormatError
from trajscope.engine.formats.collection import RunRef
from trajscope.tui.widgets.fitted_table import ColumnSpec, FittedTable
from trajscope.tui.widgets.key_footer import KeyFooter
from trajscope.engine.tree import resolved_words

COLUMNS = (
    ("run", "run"),
    ("agent", "agent / model"),
    ("steps", "steps"),
    ("branches", "branch pts"),
    ("submissions", "subm."),
    ("verdict", "verdict"),
    ("cost", "cost"),
    ("tokens", "tokens"),
    ("flags", "flags"),
)
# Widths from the space, not the content: rows are filled after they are drawn, and a column must
# not jump. Numbers and verdicts keep theirs, names and flags share the rest; where not all fit, the
# highest rank goes first (tui/widgets/fitted_table.py).
FIT = {
    "run": {"min": 12, "weight": 2, "rank": 0},
    "agent": {"min": 10, "max": 32, "rank": 3},
    "steps": {"width": 6, "rank": 1},
    "branches": {"width": 10, "rank": 3},
    "submissions": {"width": 5, "rank": 2},
    "verdict": {"width": 14, "rank": 0},
    "cost": {"width": 9, "rank": 1},
    "tokens": {"width": 11, "rank": 1},
    "flags": {"min": 10, "rank": 2},
}
VERDICTS = ("all", "resolved", "unresolved", "not verified", "failed to read")
BATCH_S = 0.25  # rows filled by the reader are shown at most this often


@dataclass
class Row:
    ref: RunRef
    agent: str = ""
    steps: int | None = None
    branches: int | None = None
    submissions: int | None = None
    verdict: str = ""  # resolved, unresolved, not verified, failed to read ("" while unread)
    cost: float | None = None
    tokens: int | None = None
    flags: list[str] = field(default_factory=list)
    error: str = ""

    def cells(self) -> tuple:
        def num(value, fmt="{:,}"):
            return "…" if value is None else fmt.format(value)

        style = {"resolved": "bold green", "unresolved": "red", "failed to read": "bold yellow"}.get(
            self.verdict, "dim"
        )
        return (
            self.ref.name,
            self.agent,
            num(self.steps),
            num(self.branches),
            num(self.submissions),
            Text(self.verdict or "…", style=style),
            num(self.cost, "${:.4f}"),
            num(self.tokens),
            ", ".join(self.flags[:3]) + (f" +{len(self.flags) - 3}" if len(self.flags) > 3 else ""),
        )

    def key(self, column: str):
        value = {
            "run": self.ref.name,
            "agent": self.agent,
            "steps": self.steps,
            "branches": self.branches,
            "submissions": self.submissions,
            "verdict": self.verdict,
            "cost": self.cost,
            "tokens": self.tokens,
            "flags": len(self.flags),
        }[column]
        return (value is None, value if value is not None else 0)


def summarize(ref: RunRef, verdicts: dict[str, bool]) -> dict:
    """A row's figures from the whole run (in the reader's thread)."""
    from trajscope.engine.analysis.flags import detect, trajectories
    from trajscope.engine.tree import Tree

    tree = Tree.fold(ref.load(verdicts).events)
    stats = tree.stats()
    config = tree.config if isinstance(tree.config, dict) else {}
    agent = " / ".join(str(v) for v in (config.get("source_format") or config.get("policy"), config.get("model")) if v)
    flags: set[str] = set()
    for leaf in trajectories(tree):
        flags.update(f.name for f in detect(tree, leaf))
    submitted = [n for n in tree.nodes.values() if n.status == "submitted"]
    verdict = (
        "resolved" if stats["resolved"] else "unresolved" if any(n.verified for n in submitted) else "not verified"
    )
    return {
        "agent": agent,
        "steps": stats["nodes"],
        "branches": stats["branch_points"],
        "submissions": stats["submissions"],
        "verdict": verdict,
        "cost": stats["cost"],
        "tokens": stats["tokens"],
        "flags": sorted(flags),
    }


class RowsRead(Message):
    def __init__(self, updates: list[tuple[int, dict]]) -> None:
        super().__init__()
        self.updates = updates


class RunsScreen(Screen):
    """The runs of a folder or a multi-run file."""

    DEFAULT_CSS = """
    RunsScreen #runs { height: 1fr; }
    RunsScreen #runs-summary { height: 1; padding: 0 1; }
    """

    BINDINGS = [
        Binding("enter", "open_run", "Open run", id="runs.open"),
        Binding("s", "sort", "Sort", id="runs.sort"),
        Binding("S", "sort(True)", "Sort backwards", show=False, id="runs.sort_back"),
        Binding("v", "verdict", "Verdict filter", id="runs.verdict"),
        Binding("f", "flagged", "Flagged only", id="runs.flagged"),
        Binding("slash", "filter", "Filter", id="runs.filter"),
        Binding("escape", "clear", "Clear filter", show=False, id="runs.clear"),
        Binding("question_mark", "help", "Help", id="runs.help"),
    ]

    def __init__(self, refs: list[RunRef], verdicts: dict[str, bool] | None = None, title: str = "") -> None:
        super().__init__()
        self.rows = [Row(ref) for ref in refs]
        self.skipped = list(getattr(refs, "skipped", []))  # files found that are not runs, with why
        self.verdicts = verdicts or {}
        self.title_text = title
        self.sort_column, self.sort_back = "run", False
        self.verdict_filter, self.flagged_only, self.text_filter = "all", False, ""
        self.read = 0
        self.stop = threading.Event()
        self.listed_s: float | None = None

    def compose(self) -> ComposeResult:
        longest = max([len(r.ref.name) for r in self.rows] + [8])
        yield FittedTable(
            [
                ColumnSpec(
                    key, label, **(FIT[key] | ({"max": longest, "min": min(longest, 24)} if key == "run" else {}))
                )
                for key, label in COLUMNS
            ],
            id="runs",
            cursor_type="row",
            zebra_stripes=True,
        )
        yield Input(placeholder="filter: text in the run's name, agent or flags (enter to apply)", id="runs-filter")
        yield Static("", id="runs-summary")
        yield KeyFooter()

    def on_mount(self) -> None:
        started = time.perf_counter()
        table = self.query_one(DataTable)
        self.query_one(Input).display = False
        self._refill()
        self.listed_s = time.perf_counter() - started
        self.app.sub_title = self.title_text
        table.focus()
        self._read_all()
        if self.skipped:
            from trajscope.engine.formats.collection import skipped_lines

            self.notify("\n".join(skipped_lines(self.skipped)), title="Not listed", timeout=12)

    def on_unmount(self) -> None:
        self.stop.set()

    # -- the reader ----------------------------------------------------------------------------
    @work(thread=True, exit_on_error=False, group="runs", description="read the runs")
    def _read_all(self) -> None:
        batch: list[tuple[int, dict]] = []
        last = time.monotonic()
        for index, row in enumerate(self.rows):
            if self.stop.is_set():
                return
            try:
                figures = summarize(row.ref, self.verdicts)
            except FormatError as exc:
                figures = {"verdict": "failed to read", "error": str(exc)}
            except (OSError, MemoryError, RecursionError) as exc:
                figures = {"verdict": "failed to read", "error": f"{row.ref.path}: {exc}"}
            batch.append((index, figures))
            if time.monotonic() - last >= BATCH_S:
                self.post_message(RowsRead(batch))
                batch, last = [], time.monotonic()
        self.post_message(RowsRead(batch))

    @on(RowsRead)
    def _rows_read(self, message: RowsRead) -> None:
        table = self.query_one(DataTable)
        for index, figures in message.updates:
            row = self.rows[index]
            for name, value in figures.items():
                setattr(row, name, value)
            self.read += 1
            if self._shown(row) and str(index) in table.rows:
                for (key, _), cell in zip(COLUMNS, row.cells()):
                    table.update_cell(str(index), key, cell)
        self._summary()

    # -- what is shown -------------------------------------------------------------------------
    def _shown(self, row: Row) -> bool:
        if self.verdict_filter != "all" and row.verdict != self.verdict_filter:
            return False
        if self.flagged_only and not row.flags:
            return False
        if self.text_filter:
            hay = " ".join([row.ref.name, row.agent, *row.flags, str(row.ref.path)]).lower()
            return self.text_filter.lower() in hay
        return True

    def _refill(self) -> None:
        table = self.query_one(DataTable)
        keep = table.cursor_row
        table.clear()
        order = sorted(range(len(self.rows)), key=lambda i: self.rows[i].key(self.sort_column), reverse=self.sort_back)
        for i in order:
            if self._shown(self.rows[i]):
                table.add_row(*self.rows[i].cells(), key=str(i))
        if table.row_count:
            table.move_cursor(row=min(keep, table.row_count - 1))
        self._summary()

    def _summary(self) -> None:
        rows = self.rows
        resolved = sum(r.verdict == "resolved" for r in rows)
        verified = sum(r.verdict in ("resolved", "unresolved") for r in rows)
        failed = sum(r.verdict == "failed to read" for r in rows)
        shown = self.query_one(DataTable).row_count
        # a run's verdict is "resolved" when any of its submissions passed (a run log records no selection)
        read = len(rows) - failed  # a run that could not be read is counted apart, never as unresolved
        parts = [resolved_words(read, resolved) + (f" ({verified} verified)" if verified != read else "")]
        if self.read < len(rows):
            parts.append(f"reading {self.read}/{len(rows)}")
        if failed:
            parts.append(f"{failed} could not be read")
        if self.skipped:
            parts.append(f"{len(self.skipped)} other file{'s' if len(self.skipped) > 1 else ''} not runs")
        if shown != len(rows):
            parts.append(f"showing {shown}")
        filters = [
            f
            for f in (
                self.verdict_filter if self.verdict_filter != "all" else "",
                "flagged" if self.flagged_only else "",
                f"text “{self.text_filter}”" if self.text_filter else "",
            )
            if f
        ]
        if filters:
            parts.append("filter: " + ", ".join(filters))
        parts.append(f"sorted by {self.sort_column}{' (backwards)' if self.sort_back else ''}")
        self.query_one("#runs-summary", Static).update(Text(" · ".join(parts)))

    # -- actions -------------------------------------------------------------------------------
    def current(self) -> Row | None:
        table = self.query_one(DataTable)
        if not table.row_count:
            return None
        key = table.coordinate_to_cell_key((table.cursor_row, 0)).row_key.value
        return self.rows[int(key)]

    @on(DataTable.RowSelected)
    def _selected(self, _: DataTable.RowSelected) -> None:
        self.action_open_run()

    def action_open_run(self) -> None:
        row = self.current()
        if row is None:
            return
        if row.verdict == "failed to read":
            self.notify(row.error or "this run could not be read", severity="error")
            return
        from trajscope.tui.bridge import RunSource
        from trajscope.tui.screens.explorer import ExplorerScreen

        self.app.push_screen(ExplorerScreen(RunSource(row.ref, self.verdicts)))

    def action_sort(self, backwards: bool = False) -> None:
        keys = [k for k, _ in COLUMNS]
        if backwards:
            self.sort_back = not self.sort_back
        else:
            self.sort_column = keys[(keys.index(self.sort_column) + 1) % len(keys)]
            self.sort_back = self.sort_column not in ("run", "agent", "verdict")  # numbers: largest first
        self._refill()

    def action_verdict(self) -> None:
        self.verdict_filter = VERDICTS[(VERDICTS.index(self.verdict_filter) + 1) % len(VERDICTS)]
        self._refill()

    def action_flagged(self) -> None:
        self.flagged_only = not self.flagged_only
        self._refill()

    def action_filter(self) -> None:
        box = self.query_one(Input)
        box.display = True
        box.value = self.text_filter
        box.focus()

    @on(Input.Submitted, "#runs-filter")
    def _filter_set(self, message: Input.Submitted) -> None:
        self.text_filter = message.value.strip()
        message.input.display = False
        self.query_one(DataTable).focus()
        self._refill()

    def action_clear(self) -> None:
        box = self.query_one(Input)
        if box.display:
            box.display = False
            self.query_one(DataTable).focus()
            return
        if self.text_filter or self.verdict_filter != "all" or self.flagged_only:
            self.text_filter, self.verdict_filter, self.flagged_only = "", "all", False
            self._refill()

    def action_help(self) -> None:
        from trajscope.tui.screens.help import HelpScreen, binding_rows

        self.app.push_screen(HelpScreen(binding_rows(self)))
