"""What the benchmarks that drive the app share: its size, a frame clock, key latency."""

from __future__ import annotations

import asyncio
import resource
import time
from pathlib import Path

SIZE = (140, 40)
REPO = Path(__file__).resolve().parents[2]


def rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


class FrameClock:
    """Timestamps every frame the app composes."""

    def __init__(self, app) -> None:
        self.frames: list[float] = []
        original = app._display

        def display(screen, renderable):
            if renderable is not None:
                self.frames.append(time.perf_counter())
            return original(screen, renderable)

        app._display = display

    def first_after(self, t: float) -> float | None:
        return next((f for f in self.frames if f >= t), None)


async def key_latency(app, clock: FrameClock, tree, key: str) -> float:
    """Post a cursor key; seconds until the first frame drawn after the cursor moved."""
    from textual import events as tevents

    before = tree.cursor_line
    posted = time.perf_counter()
    app.post_message(tevents.Key(key, key))
    await wait(lambda: tree.cursor_line != before, 10)
    moved = time.perf_counter()
    await wait(lambda: clock.first_after(moved) is not None, 10)
    return clock.first_after(moved) - posted


async def wait(predicate, timeout: float) -> None:
    deadline = time.perf_counter() + timeout
    while not predicate():
        if time.perf_counter() > deadline:
            raise TimeoutError("benchmark condition not met in time")
        await asyncio.sleep(0.002)
