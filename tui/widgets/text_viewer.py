"""A line-based scroll view for very long text: only visible lines are ever rendered."""

from __future__ import annotations

from rich.segment import Segment
from textual.geometry import Size
from textual.scroll_view import ScrollView
from textual.strip import Strip

MAX_LINE = 2000  # characters drawn of one line; the rest stays in the file


class TextViewer(ScrollView, can_focus=True):
    """Shows a list of lines; scrolling costs the same for 10 lines or 10 million."""

    BINDINGS = [
        ("j", "scroll_down", "Down"),
        ("k", "scroll_up", "Up"),
        ("g", "scroll_home", "Top"),
        ("G", "scroll_end", "Bottom"),
        ("space", "page_down", "Page down"),
    ]

    def __init__(self, lines: list[str] | None = None, **kwargs) -> None:
        super().__init__(**kwargs)
        self.lines: list[str] = []
        if lines is not None:
            self.set_lines(lines)

    def set_lines(self, lines: list[str]) -> None:
        self.lines = lines
        width = max((len(line) for line in lines[:20000]), default=0)
        self.virtual_size = Size(min(width, MAX_LINE), len(lines))
        self.refresh()

    def render_line(self, y: int) -> Strip:
        scroll_x, scroll_y = self.scroll_offset
        index = scroll_y + y
        if index >= len(self.lines):
            return Strip.blank(self.size.width, self.rich_style)
        line = self.lines[index][scroll_x : scroll_x + min(self.size.width, MAX_LINE)]
        return Strip([Segment(line, self.rich_style)]).extend_cell_length(self.size.width, self.rich_style)
