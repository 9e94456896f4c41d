"""What the explorer does while a file is still read in parts (tui/bridge.py ``PartReader``):
the end of the reading, and the keys that need the whole tree, which wait for it and say so.
A mixin of ``ExplorerScreen``, kept apart so the screen's module stays about browsing."""

from __future__ import annotations

from trajscope.tui.messages import TreeLoaded


class ReadingInParts:
    """The explorer's reading of a file in parts; ``reader`` is None once the tree is whole."""

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
            self._build_flags(self.flag_cache)
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
