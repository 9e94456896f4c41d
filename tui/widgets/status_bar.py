"""The bottom line: size of the tree, submissions, tokens, cost, the sandbox the commands ran in and
what the feed is doing; and, first and in the theme's error colour, that the agent's commands ran
unconfined (``--sandbox none``)."""

from __future__ import annotations

from rich.text import Text
from textual.widgets import Static


def _tokens(n: int) -> str:
    return f"{n / 1e6:.1f}M" if n >= 1e6 else f"{n / 1e3:.1f}k" if n >= 1e3 else str(n)


class StatusBar(Static):
    """One line of counts, updated from ``Tree.stats()`` (cheap: kept by the fold); a second one
    in a live search."""

    COMPONENT_CLASSES = {"status-bar--unconfined"}
    UNCONFINED = "UNCONFINED: --sandbox none"

    _shown = ""

    def show(
        self, stats: dict, mode: str = "", skipped: int = 0, extra: list[str] | None = None, sandbox: str = ""
    ) -> None:
        """``sandbox``: the run's sandbox as ``run_started`` recorded it."""
        parts = [
            f"nodes {stats['nodes']:,}",
            f"depth {stats['max_depth']}",
            f"branches {stats['branch_points']}",
            f"submissions {stats['submissions']}"
            + (f" ({stats['resolved']} resolved)" if stats.get("resolved") else ""),
            f"tokens {_tokens(stats['tokens'])}",
            f"cost ${stats['cost']:.2f}" if stats["cost"] >= 1 else f"cost ${stats['cost']:.4f}",
        ]
        if stats.get("pruned"):
            parts.insert(3, f"pruned {stats['pruned']}")
        if sandbox and sandbox != "none":  # where the commands ran (none is said first, below)
            parts.append(f"sandbox {sandbox}")
        if skipped:
            parts.append(f"skipped lines {skipped}")
        if mode:
            parts.append(mode)
        line = " · ".join(parts)
        if extra:  # a second line: the live search's budget, workers and scorer
            line += "\n" + " · ".join(e.strip() for e in extra)
            if not self.has_class("-two-lines"):
                self.add_class("-two-lines")
        if sandbox == "none":
            line = f"{self.UNCONFINED} · {line}"
        if line != self._shown:  # a repaint of this line only: its size never changes
            self._shown = line
            text = Text(line, no_wrap=True, overflow="ellipsis")
            if sandbox == "none":
                text.stylize(self.get_component_rich_style("status-bar--unconfined"), 0, len(self.UNCONFINED))
            self.update(text, layout=False)
