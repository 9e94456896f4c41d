"""What the explorer does while a file is still read in parts (tui/bridge.py ``PartReader``):
the fold of the rest, a time slice at a time between keys and frames, the end of the reading,
and the keys that need the whole tree, which wait for it and say so. A mixin of
``ExplorerScreen``, kept apart so the screen's module stays about browsing."""

from __future__ import annotations

import gc
import time

from trajscope.engine.events import paused_gc
from trajscope.tui.bridge import MAX_BATCH
from trajscope.tui.messages import TreeLoaded

READ_SLICE_S = 0.04
"""How long one fold of a file's next events may take before keys and frames have their turn
(a key waits at most this long); the next slice follows at the next tick."""
FOLD_STEP = 500  # events between two looks at the clock
STATUS_EVERY_S = 0.25
"""While a file is read the status bar changes at most this often (each change costs a frame)."""


class ReadingInParts:
    """The explorer's reading of a file in parts; ``reader`` is None once the tree is whole."""

    _status_at = 0.0

    def status_due(self) -> bool:
        """Whether the status bar may say again how much is read."""
        now = time.monotonic()
        if now - self._status_at < STATUS_EVERY_S:
            return False
        self._status_at = now
        return True

    def _reader_ended(self) -> bool:
        """The file's reader has nothing more: the tree is whole (or the reading stopped)."""
        reader = self.reader
        if reader.replacement is not None:  # the file's end changed what its first part said
            self._read_timer.stop()
            self.reader = None
            self._loaded(TreeLoaded(reader.replacement, reader.counts, reader.format))
            self._read_done(flags=False)  # _loaded builds them for a whole tree
            return True
        if not reader.complete:
            return False
        self._read_timer.stop()
        self.reader = None
        self.skipped = reader.counts.damaged + reader.counts.unknown
        if reader.error is not None:  # what was read stays on screen, and the status says it is cut
            self.cut_short = f"read stopped at {reader.done / max(reader.size, 1):.0%}"
            self.notify(reader.error, title="The rest of the file cannot be read", severity="error", timeout=20)
        elif self.skipped:
            self.notify(f"{self.skipped} damaged or unknown line(s) were skipped", severity="warning")
        self._read_done()
        return True

    def _read_done(self, flags: bool = True) -> None:
        self.tree.read_done()
        self._update_status()
        self._show_cursor()
        if flags:
            self._build_flags(self.ensure_flag_cache())
        pending, self._after_read = self._after_read, []
        for action in pending:
            action()

    def after_read(self, what: str, action) -> bool:
        """Run ``action`` once the whole file is in the tree; False (and nothing to do) when it is."""
        if self.reader is None:
            return False
        self._after_read.append(action)
        self.notify(f"Still reading the file ({self.reader.progress}): {what} when it is read.", timeout=3)
        return True

    def fold_pending(self) -> tuple[list[str], set[str]]:
        """Fold what the pump holds into the model and the tree's lines: the ids added and the
        ids changed. A followed log or a live search gives at most ``MAX_BATCH`` events a tick;
        a file read in parts as many as ``READ_SLICE_S`` allows."""
        model, tree, pump = self.model, self.tree, self.pump
        reading = self.reader is not None
        changed: set[str] = set()
        added: list[str] = []
        deadline = time.perf_counter() + READ_SLICE_S
        # The collector would walk the whole folded tree again and again as it grows (a whole
        # fold pauses it too); what a slice leaves behind is collected once, after it.
        with tree.growing(), paused_gc():
            while events := pump.drain(FOLD_STEP if reading else MAX_BATCH):
                for event in events:
                    node_id = model.apply(event)
                    if node_id is None:
                        continue
                    if event["type"] == "node_added":
                        tree.node_added(node_id)
                        added.append(node_id)
                    else:
                        changed.add(node_id)
                if not reading or time.perf_counter() >= deadline:
                    break
        if reading:
            # What was folded lives as long as the app (a file read in parts is the app's first
            # screen): frozen, it is not walked again by every full collection as the tree grows
            # (one walk of 330,000 folded steps stalled keys for ~1 s). The app unfreezes at its end.
            gc.freeze()
        return added, changed
