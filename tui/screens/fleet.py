"""The fleet: a batch of searches on one screen (``trajscope batch``).

One row per instance with its state (queued, running on which node, finished and why, failed
and why, restarted), nodes, best score, submissions, verdict, tokens and cost; totals and
throughput above. Enter opens that search's live tree, where every control is forwarded to
wherever the search runs; escape comes back here. Space pauses or resumes every search.
"""

from __future__ import annotations

from rich.text import Text
from textual import work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.screen import Screen
from textual.widgets import DataTable, Static

from trajscope.engine.tree import resolved_words
from trajscope.tui.widgets.fitted_table import ColumnSpec, FittedTable
from trajscope.tui.widgets.key_footer import KeyFooter

COLUMNS = ("run", "state", "node", "nodes", "best", "subm.", "verdict", "tokens", "cost", "restarts", "why")
# How the columns share the width: the names and the reason take what the short values leave;
# where not all fit, the highest rank goes first (tui/widgets/fitted_table.py).
FIT = {
    "run": {"min": 12, "rank": 0},
    "state": {"width": 8, "rank": 0},
    "node": {"width": 12, "rank": 3},
    "nodes": {"width": 6, "rank": 1},
    "best": {"width": 4, "rank": 1},
    "subm.": {"width": 5, "rank": 2},
    "verdict": {"width": 10, "rank": 0},
    "tokens": {"width": 11, "rank": 2},
    "cost": {"width": 9, "rank": 2},
    "restarts": {"width": 8, "rank": 3},
    "why": {"min": 20, "weight": 3, "rank": 0},
}
REFRESH_S = 0.5
STATE_STYLE = {
    "running": "bold cyan",
    "starting": "cyan",
    "queued": "dim",
    "finished": "green",
    "failed": "bold red",
    "stopped": "yellow",
}


def cells(row: dict) -> tuple:
    verdict = row["verdict"] or ""
    return (
        row["run"],
        Text(row["state"], style=STATE_STYLE.get(row["state"], "")),
        row["node"][:12],
        str(row["nodes"]),
        "" if row["best"] is None else f"{row['best']:.2f}",
        str(row["submissions"]),
        Text(verdict, style="bold green" if verdict == "resolved" else "red" if verdict else ""),
        f"{row['tokens']:,}",
        f"${row['cost']:.4f}",
        str(row["restarts"]) if row["restarts"] else "",
        row["reason"],
    )


def headline(totals: dict, described: str) -> str:
    return (
        f"batch · {described} · {totals['done']}/{totals['instances']} done · {totals['running']} running · "
        f"{totals['queued']} queued · "
        f"{resolved_words(totals['instances'], totals['any_resolved'], totals['selected_resolved'])} · "
        f"{totals['failed']} failed · "
        f"{totals['restarts']} restart(s) · {totals['nodes']:,} nodes · {totals['tokens']:,} tokens · "
        f"${totals['cost']:.4f} · {totals['searches_per_hour']:.1f} searches/h · "
        f"{totals['nodes_per_s']:.2f} nodes/s" + (" · PAUSED" if totals["paused"] else "")
    )


class FleetScreen(Screen):
    BINDINGS = [
        Binding("enter", "open", "Open", tooltip="the live tree of this search, with every control", id="fleet.open"),
        Binding(
            "space", "pause_all", "Pause all", tooltip="pause / resume every search", priority=True, id="fleet.pause"
        ),
        Binding("question_mark", "help", "Help", id="fleet.help"),
    ]

    def __init__(self, fleet) -> None:
        super().__init__()
        self.fleet = fleet
        self.described = fleet.executor.describe()
        self.shown: dict[str, tuple] = {}

    def compose(self) -> ComposeResult:
        yield Static("", id="fleet-totals")
        longest = max([len(m.name) for m in self.fleet.members] + [8])
        specs = [
            ColumnSpec(c, c, **(FIT[c] | ({"max": longest, "min": min(longest, 24)} if c == COLUMNS[0] else {})))
            for c in COLUMNS
        ]
        yield FittedTable(specs, id="fleet-table", cursor_type="row", zebra_stripes=True)
        yield KeyFooter()

    def on_mount(self) -> None:
        table = self.query_one(DataTable)
        for member in self.fleet.members:
            table.add_row(*cells(member.row()), key=member.name)
        table.focus()
        self._refresh()
        self.set_interval(REFRESH_S, self._refresh, name="fleet-refresh")

    def _refresh(self) -> None:
        table = self.query_one(DataTable)
        for member in self.fleet.members:
            row = cells(member.row())
            if self.shown.get(member.name) == row:
                continue
            self.shown[member.name] = row
            for column, value in zip(COLUMNS, row):
                table.update_cell(member.name, column, value)
        self.query_one("#fleet-totals", Static).update(Text(headline(self.fleet.totals(), self.described)))

    def _member(self):
        table = self.query_one(DataTable)
        if table.row_count == 0:
            return None
        key = table.coordinate_to_cell_key(table.cursor_coordinate).row_key.value
        return next((m for m in self.fleet.members if m.name == key), None)

    def action_open(self) -> None:
        from trajscope.tui.remote import RemoteLiveSource
        from trajscope.tui.screens.live import LiveScreen

        member = self._member()
        if member is None:
            return
        if member.state == "queued" and not member.log.exists():
            self.notify(f"{member.name} has not started yet.", severity="warning")
            return
        self.app.push_screen(LiveScreen(RemoteLiveSource(self.fleet, member)))

    def on_data_table_row_selected(self, event: DataTable.RowSelected) -> None:
        self.action_open()

    def action_pause_all(self) -> None:
        self._pause_all(not self.fleet.paused)

    @work(thread=True, exit_on_error=False, group="commands", description="pause or resume every search")
    def _pause_all(self, paused: bool) -> None:
        reached = self.fleet.pause_all(paused)
        word = "paused" if paused else "resumed"
        self.app.call_from_thread(self.notify, f"{word} {reached} running search(es)", timeout=2)

    def action_help(self) -> None:
        from trajscope.tui.screens.help import HelpScreen, binding_rows

        self.app.push_screen(HelpScreen(binding_rows(self)))
