"""Command palette: every key binding of the explorer, searchable by what it does."""

from __future__ import annotations

from functools import partial

from textual.command import DiscoveryHit, Hit, Hits, Provider


class BindingCommands(Provider):
    """Lists the bindings of the screen the palette was opened from."""

    def _commands(self) -> list[tuple[str, str, str]]:
        from trajscope.tui.screens.help import binding_rows  # when the palette opens, not at start-up

        screen = self.screen
        out = []
        for keys, description, action in binding_rows(screen, with_actions=True):
            out.append((f"{description}", keys, action))
        return out

    def _run(self, action: str) -> None:
        self.app.call_later(self.screen.run_action, action)

    async def discover(self) -> Hits:
        for description, keys, action in self._commands():
            yield DiscoveryHit(description, partial(self._run, action), help=f"key: {keys}")

    async def search(self, query: str) -> Hits:
        matcher = self.matcher(query)
        for description, keys, action in self._commands():
            score = matcher.match(description)
            if score > 0:
                yield Hit(score, matcher.highlight(description), partial(self._run, action), help=f"key: {keys}")
