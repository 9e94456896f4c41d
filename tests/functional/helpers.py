"""Helpers for Pilot tests."""

from __future__ import annotations

import asyncio
import time

from trajscope.tui.widgets.action_tree import ActionTree


def visible_ids(tree: ActionTree) -> list[str]:
    """Node ids in the order their lines are drawn."""
    out = []

    def walk(node):
        out.append(node.data)
        if node.is_expanded:
            for child in node.children:
                walk(child)

    walk(tree.root)
    return out


async def wait_for(pilot, predicate, timeout: float = 10.0, describe=None) -> None:
    """Wait for ``predicate``; ``describe`` (a callable) says what was seen when it times out."""
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            seen = f": {describe()}" if describe is not None else ""
            raise AssertionError(f"condition not met in time{seen}")
        await pilot.pause(0.05)
    await asyncio.sleep(0)


def static_text(widget, width: int = 200) -> str:
    """The plain text a Static shows (its content may be any Rich renderable)."""
    import io

    from rich.console import Console

    console = Console(width=width, file=io.StringIO(), record=True, color_system=None)
    console.print(widget.content)
    return console.export_text()
