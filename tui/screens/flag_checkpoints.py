"""The explorer's flag checkpoints (engine.analysis.flags ``FlagCache``): made after the first
frame, where the flags' rules load (start-up otherwise), and built in a thread once the tree
is whole. A mixin of ``ExplorerScreen``, kept apart so the screen's module stays about browsing."""

from __future__ import annotations

from textual import work

from trajscope.engine.tree import ROOT
from trajscope.tui.messages import FlagsBuilt


class FlagCheckpoints:
    """``flag_cache``: the model's FlagCache, None until the first frame is drawn."""

    flag_cache = None

    def _flags_after_paint(self, model, build: bool) -> None:
        if model is self.model and self.flag_cache is None:  # not replaced (nor made) since
            cache = self.ensure_flag_cache()
            if build:
                self._build_flags(cache)
            if self.tree.cursor_id not in (None, ROOT):  # the detail was drawn without the cache
                self._show_cursor()

    def ensure_flag_cache(self):
        """The model's FlagCache, made now where the first frame has not made it yet."""
        from trajscope.engine.analysis.flags import FlagCache

        if self.flag_cache is None:
            self.flag_cache = FlagCache(self.model)
        return self.flag_cache

    def _build_flags(self, cache) -> None:
        cache.building = True
        self._flags_worker(cache)

    @work(thread=True, exit_on_error=False, group="flags", description="flag checkpoints")
    def _flags_worker(self, cache) -> None:
        cache.build()
        if cache is self.flag_cache:  # the detail may say the flags were being worked out
            self.post_message(FlagsBuilt())
