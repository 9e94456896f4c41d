"""The footer of keys, fitted to the screen's width.

Textual's footer lists every shown binding in one row and crops what passes the edge: at 80
columns the live screen lost q, s, + and f, the keys a person needs most. This one goes compact
when the row is too long, then leaves out the keys a person needs least (the help screen and
the command palette list them all), so the keys of ``KEEP`` stay whatever the width.
"""

from __future__ import annotations

from rich.cells import cell_len
from textual import events
from textual.app import ComposeResult
from textual.widgets import Footer
from textual.widgets._footer import FooterKey  # not exported; Textual is pinned (pyproject.toml)

KEEP: dict[str, int] = {
    # 0: never left out while anything else is; 1: left out after every unranked key.
    "app.quit": 0,
    "explorer.help": 0,
    "fleet.help": 0,
    "runs.help": 0,
    "explorer.back": 0,
    "live.pause": 0,
    "live.submit": 0,
    "live.raise_budget": 0,
    "live.follow": 0,
    "fleet.open": 0,
    "fleet.pause": 0,
    "runs.open": 0,
    "explorer.detail": 1,
    "explorer.search": 1,
    "explorer.compare": 1,
    "live.resample": 1,
    "live.edit": 1,
    "live.prune": 1,
    "live.promote": 1,
    "runs.sort": 1,
    "runs.verdict": 1,
    "runs.flagged": 1,
    "runs.filter": 1,
}
"""Binding id -> how long its key stays in a footer too narrow for all of them (lower stays longer)."""
UNRANKED = 2
PALETTE_EXTRA = 2  # the palette key's border and right padding


def key_cells(key: FooterKey, compact: bool) -> int:
    """The cells a key takes in the row (Textual's footer styles: padding around the key, after
    the description, or one cell of margin when compact)."""
    cells = cell_len(key.key_display) + (1 + cell_len(key.description) if key.description else 0)
    extra = 1 if compact else 2
    if key.has_class("-command-palette"):
        extra += PALETTE_EXTRA
    return cells + extra


class KeyFooter(Footer):
    """A footer that keeps the essential keys on screen at any width."""

    _composed_width: int | None = None

    def compose(self) -> ComposeResult:
        items = list(super().compose())
        width = self.size.width or self.app.size.width
        self._composed_width = width
        keys = [item for item in items if isinstance(item, FooterKey)]
        compact = sum(key_cells(k, False) for k in keys) > width
        self.compact = compact
        rank = self._ranks()
        used = sum(key_cells(k, compact) for k in keys)
        # The least needed first, the later of two equally needed first: the row keeps its order.
        droppable = sorted(
            (k for k in keys if not k.has_class("-command-palette")),
            key=lambda k: (rank.get(k.action, UNRANKED), keys.index(k)),
            reverse=True,
        )
        left_out: set[int] = set()
        for key in droppable:
            if used <= width:
                break
            left_out.add(id(key))
            used -= key_cells(key, compact)
        yield from (item for item in items if id(item) not in left_out)

    def _ranks(self) -> dict[str, int]:
        """Action -> rank, for the bindings active on this screen (a keymap may have moved their keys)."""
        ranks: dict[str, int] = {}
        for _node, binding, _enabled, _tooltip in self.screen.active_bindings.values():
            ranks[binding.action] = min(ranks.get(binding.action, UNRANKED), KEEP.get(binding.id or "", UNRANKED))
        return ranks

    def on_resize(self, event: events.Resize) -> None:
        if event.size.width != self._composed_width:
            self.call_after_refresh(self.recompose)
