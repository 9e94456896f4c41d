"""All of one observation, however long, in a line-based viewer."""

from __future__ import annotations

from rich.text import Text
from textual import work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical
from textual.screen import ModalScreen

from trajscope.tui.widgets.text_clean import clean_text
from trajscope.tui.widgets.text_viewer import TextViewer


class ObservationScreen(ModalScreen[None]):
    """The full observation of a node; cleaning a large one happens in a worker."""

    BINDINGS = [Binding("escape,q,o", "dismiss", "Close", id="observation.close")]

    def __init__(self, node_id: str, text: str) -> None:
        super().__init__()
        self.node_id = node_id
        self.text = text

    def compose(self) -> ComposeResult:
        with Vertical(id="observation-body") as body:
            body.border_title = Text(f"observation of #{self.node_id} ({len(self.text):,} characters)")
            body.border_subtitle = "j/k scroll · g/G top/bottom · esc close"
            yield TextViewer(["cleaning…"])

    def on_mount(self) -> None:
        self.query_one(TextViewer).focus()
        self._prepare()

    @work(thread=True, exit_on_error=False, group="observation", description="clean observation")
    def _prepare(self) -> None:
        lines = clean_text(self.text).split("\n")
        self.app.call_from_thread(self.query_one(TextViewer).set_lines, lines)
