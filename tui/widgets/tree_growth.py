"""How the action tree takes lines that arrive while it is shown (a followed log, a live search,
the rest of a file read in parts). A mixin of ``ActionTree``, kept apart so the widget's module
stays about drawing and moving around the tree.

While a file is read, a line is made only where it would be seen: a container whose last line
is off screen (or folded) is left for later and filled in when its end scrolls into view, when
it is unfolded, or once the file is read. Lines made below the screen cost every later frame a
pass over them (Textual lists every line again after each change), so making them as they were
read grew with the square of the file: 330,000 steps spent 69 s listing lines nobody saw.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from contextlib import contextmanager


CHUNK = 250
"""Lines made at once where a container has more (the rest come in chunks, between frames)."""
AUTO_EXPAND_BELOW = 600
"""Trees of fewer steps open fully expanded."""
SHOW_EVERY_S = 0.25
"""While a file is read, lines are added on screen at most this often: each time Textual lists
the lines again, lays the screen out and draws every line on it (tens of ms, as long as a fold
of thousands of events)."""


class GrowingLines:
    """Lines added as the model grows, in batches, and only on screen while a file is read."""

    _batched = 0  # inside ``growing``: a layout refresh waits for the end of the batch (Tree's init refreshes)
    _stale = False
    _screen: tuple = ()  # while a file is read: the lines listed when the batch began, and where the screen is
    _room = 0  # lines a batch may still add on screen while a file is read
    _shown_at = 0.0  # when a batch last changed the lines while a file is read

    # -- batches ------------------------------------------------------------------
    def _invalidate(self) -> None:
        if not self._batched:
            super()._invalidate()
            return
        # Each line added asks for a layout refresh (a thousand lines read: a thousand of them);
        # the line list is dropped at once, so anything that reads it inside the batch is right.
        self._clear_line_cache()
        self._updates += 1
        self._stale = True

    @contextmanager
    def growing(self) -> Iterator[None]:
        """Add many lines with one layout refresh at the end (none when no line changed)."""
        self._batched += 1
        try:
            if self._batched == 1 and self.reading and self.model is not None:
                self._look_at_screen()
                self._fill_what_scrolled_in()
            yield
        finally:
            self._batched -= 1
            if not self._batched:
                self._screen = ()
                if self._stale:
                    self._stale = False
                    self._shown_at = time.monotonic()
                    super()._invalidate()

    def _look_at_screen(self) -> None:
        """Note which lines are on screen now: what this batch reads may add lines there only."""
        lines = self._tree_lines  # listed again only if the last batch changed a line
        top = self.scroll_offset.y
        height = max(self.scrollable_content_region.height, 1)
        bottom = top + height
        # A line's path holds every container it is inside: a container in the path of the
        # line just below the screen goes on past the screen, one in the top line's from above.
        above = set(lines[top].path) if top < len(lines) else set()
        below = set(lines[bottom].path) if bottom < len(lines) else set()
        self._screen = (lines, top, bottom, above, below)
        self._room = height if time.monotonic() - self._shown_at >= SHOW_EVERY_S else 0

    def _end_on_screen(self, container: str) -> bool:
        """While a file is read: whether a line added at the end of ``container`` would be on
        screen now (and the batch has not filled the screen yet)."""
        if not self._screen or self._room <= 0:
            return False
        lines, top, bottom, above, below = self._screen
        tnode = self._tnodes.get(container)
        if tnode is None or not tnode._expanded:
            return False
        line = tnode._line
        if not (0 <= line < len(lines)) or lines[line].node is not tnode:
            return False  # folded away, or made since the lines were listed
        return line < bottom and tnode not in below and (line >= top or tnode in above)

    def _fill_what_scrolled_in(self) -> None:
        """Containers left for later whose end is on screen now get their lines."""
        for container in list(self._deferred):
            if container not in self._tnodes:
                self._deferred.discard(container)
            elif self._end_on_screen(container):
                made = len(self._tnodes)
                self._populate_sync(container, limit=self._room, drawn_later=True)
                self._room -= len(self._tnodes) - made
                if container in self._populated:
                    self._deferred.discard(container)

    def _first_lines(self) -> int:
        """Lines a container gets at once: a chunk, or while a file is read a screenful (the
        rest as they scroll into view)."""
        if not self.reading:
            return CHUNK
        return max(self.scrollable_content_region.height, self.app.size.height, 1)

    def _leave_for_later(self, container: str) -> None:
        self._populated.discard(container)
        self._deferred.add(container)

    # -- what the fold adds ---------------------------------------------------------
    def node_added(self, node_id: str) -> None:
        """Reflect a node the fold has just added."""
        model = self.model
        parent = model.nodes[node_id].parent
        siblings = model.n_children(parent)
        if siblings == 2:
            self._branch_formed(parent)
            return
        if siblings == 1:
            container = parent if self._is_head(parent) else self._vparent.get(parent)
            if container is None:
                return
            ptnode = self._tnodes.get(parent)
            if ptnode is not None and container == parent and not ptnode.allow_expand:
                ptnode.allow_expand = True
        else:
            container = parent
        if container in self._populated and container in self._tnodes:
            if self.reading:
                if not self._end_on_screen(container):
                    self._leave_for_later(container)
                    return
                self._room -= 1
            self._materialize(node_id, container, drawn_later=self.reading)

    def _branch_formed(self, parent: str) -> None:
        """``parent`` got its second child: its first child's chain becomes a branch."""
        first = self.model.children(parent)[0]
        ftnode = self._tnodes.get(first)
        if ftnode is not None:
            siblings = ftnode.parent.children
            for tnode in list(siblings[siblings.index(ftnode) :]):
                self._drop(tnode)
        if ftnode is not None:
            self._reexpand.add(first)  # the chain the user could see stays in view
        ptnode = self._tnodes.get(parent)
        if ptnode is not None:
            ptnode.allow_expand = True
            self._populated.discard(parent)
            ptnode.expand()
            self._populate_sync(parent)
        self._reexpand.clear()

    def read_done(self) -> None:
        """The whole file is in the tree: a small one opens fully, containers left for later get
        their lines, and a G pressed while it was read goes to the last line now."""
        self.reading = False
        if self.model is not None and len(self.model) < AUTO_EXPAND_BELOW:
            self._expand_everything()
        deferred, self._deferred = self._deferred, set()
        later = []
        with self.growing():
            for container in deferred:
                if container in self._tnodes and container not in self._populated:
                    # The person waits for the last line: all of it in one batch.
                    self._populate_sync(container, limit=None if self._wants_last else CHUNK, drawn_later=True)
                    if container not in self._populated:
                        later.append(container)
        for container in later:
            self.run_worker(self._populate_rest(container), group="populate")
        if self._wants_last:
            self._wants_last = False
            self.action_last_line()

    def action_last_line(self) -> None:
        """The last line shown (in a run without branches, the last step)."""
        if self.reading:  # the last line now is not the last step: go there when it is read
            self._wants_last = True
            self.notify("Still reading the file: the cursor goes to the last step when it is read.", timeout=3)
            return
        self.cursor_line = self.last_line
        self.scroll_to_line(self.cursor_line, animate=False)
