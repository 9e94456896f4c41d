"""A table whose columns follow its width.

Textual's DataTable sizes a column by its content or a fixed number: the fleet cut "verdict" to
``resolve`` beside 100 empty columns, and the runs screen at 100 columns pushed verdict, cost and
tokens off the edge. Here fixed columns keep their width, the flexible ones (names, reasons,
flags) share what is left, and where not every column fits, the least needed are left out
(their values stay: a wider terminal shows them again). A resize fits the columns again.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from rich.text import Text
from textual import events
from textual.binding import Binding
from textual.widgets import DataTable


@dataclass(frozen=True)
class ColumnSpec:
    """How one column takes its share of the width."""

    key: str
    label: str
    width: int | None = None
    """Cells for a column of short values (numbers, states); None: a flexible column."""
    min: int = 8
    """A flexible column's fewest cells."""
    max: int | None = None
    """A flexible column's most cells (the longest value it can hold); None: all that is left."""
    weight: int = 1
    """A flexible column's share of the spare cells, against the others' weights."""
    rank: int = 0
    """Where not every column fits, the highest rank is left out first (the later of two first)."""


def text_cell(cell):
    """A cell as the text it is: DataTable reads a ``str`` cell as markup (a run named from a
    file, a model's name or a reason with ``[/b]`` in it raised MarkupError; ``[red]`` restyled it)."""
    return Text(cell) if isinstance(cell, str) else cell


def fit_columns(specs: list[ColumnSpec], available: int, padding: int = 1) -> dict[str, int]:
    """The columns shown (in the specs' order) and their widths in ``available`` cells, ``padding``
    cells on each side of every column."""
    shown = list(specs)

    def need(columns: list[ColumnSpec]) -> int:
        return sum((c.width if c.width is not None else c.min) + 2 * padding for c in columns)

    while len(shown) > 1 and need(shown) > available:
        shown.remove(max(shown, key=lambda c: (c.rank, specs.index(c))))
    widths = {c.key: c.width if c.width is not None else c.min for c in shown}
    spare = available - need(shown)
    while spare > 0:
        growing = [c for c in shown if c.width is None and (c.max is None or widths[c.key] < c.max)]
        if not growing:
            break
        weights = sum(c.weight for c in growing)
        given = 0
        for column in growing:
            share = min(max(1, spare * column.weight // weights), spare - given)
            if column.max is not None:
                share = min(share, column.max - widths[column.key])
            widths[column.key] += share
            given += share
        spare -= given
        if not given:
            break
    return widths


class FittedTable(DataTable):
    """A DataTable of ``specs``' columns, fitted to its width. Rows are given whole (a cell for
    every spec, and a key); the cells of columns left out are kept for when they fit again."""

    # DataTable's enter ("Select") opens the row on both screens that use this table (the runs,
    # the batch): the help says so
    BINDINGS = [
        Binding("enter", "select_cursor", "Open", tooltip="the run or search of this row", show=False, id="table.open")
    ]

    def __init__(self, specs: list[ColumnSpec], **kwargs) -> None:
        super().__init__(**kwargs)
        self.specs = specs
        self.cells: dict[str, dict[str, Any]] = {}  # row key -> column key -> cell, for every spec
        self.widths: dict[str, int] = {}  # the columns shown now and their widths

    def on_mount(self) -> None:
        self.fit()

    def on_resize(self, _: events.Resize) -> None:
        self.fit()

    def fit(self) -> None:
        """Fit the columns to the width now: the rows are put back in their order, the cursor on its row."""
        width = self.size.width or self.app.size.width
        # Room is kept for the vertical scrollbar: a table that grows a row must not lose a column.
        widths = fit_columns(self.specs, width - self.styles.scrollbar_size_vertical, self.cell_padding)
        if widths == self.widths:
            return
        order = [row.key.value for row in self.ordered_rows]
        cursor = self.cursor_coordinate
        DataTable.clear(self, columns=True)
        self.widths = widths
        for spec in self.specs:
            if spec.key in widths:
                self.add_column(spec.label, key=spec.key, width=widths[spec.key])
        for key in order:
            DataTable.add_row(self, *self._shown_cells(key), key=key)
        if self.row_count:
            self.move_cursor(row=min(cursor.row, self.row_count - 1), animate=False)

    def _shown_cells(self, key: str) -> list:
        row = self.cells[key]
        return [text_cell(row[spec.key]) for spec in self.specs if spec.key in self.widths]

    def add_row(self, *cells, key: str, **kwargs):  # type: ignore[override]
        """A row with a cell for every spec (those of columns left out are kept, not shown)."""
        self.cells[key] = {spec.key: cell for spec, cell in zip(self.specs, cells)}
        return super().add_row(*self._shown_cells(key), key=key, **kwargs)

    def update_cell(self, row_key, column_key, value, **kwargs) -> None:  # type: ignore[override]
        row_key, column_key = getattr(row_key, "value", row_key), getattr(column_key, "value", column_key)
        self.cells[row_key][column_key] = value
        if column_key in self.widths:
            super().update_cell(row_key, column_key, text_cell(value), **kwargs)

    def clear(self, columns: bool = False):  # type: ignore[override]
        """Every row goes (the columns are the specs': they stay)."""
        self.cells.clear()
        return super().clear(columns=False)
