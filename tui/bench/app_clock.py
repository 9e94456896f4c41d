"""Times one app on one trajectory (run by ``trajscope bench inspector`` in a fresh process;
it imports only Textual and the app it measures, so mini-swe-agent's venv can run it).

    python app_clock.py trajscope|inspector FILE

Prints one JSON line: launch (this process's start) to the first frame with the trajectory
shown; the latency of 20 "previous step" keys after jumping to the last step (p50, p95: key
posted to the first frame after the step changed); the jump from the first step to the last;
peak memory.
"""

import time

STARTED = time.perf_counter()

import asyncio  # noqa: E402
import json  # noqa: E402
import resource  # noqa: E402
import sys  # noqa: E402
from pathlib import Path  # noqa: E402

SIZE = (160, 48)


class Frames:
    def __init__(self, app) -> None:
        self.times: list[float] = []
        original = app._display

        def display(screen, renderable):
            if renderable is not None:
                self.times.append(time.perf_counter())
            return original(screen, renderable)

        app._display = display

    def after(self, t: float):
        return next((f for f in self.times if f >= t), None)


async def until(predicate, timeout: float = 120) -> None:
    deadline = time.perf_counter() + timeout
    while not predicate():
        if time.perf_counter() > deadline:
            raise TimeoutError("condition not met")
        await asyncio.sleep(0.001)


async def press(app, frames: Frames, key: tuple, position) -> float:
    from textual import events

    before = position()
    posted = time.perf_counter()
    app.post_message(events.Key(*key))
    await until(lambda: position() != before, 30)
    moved = time.perf_counter()
    await until(lambda: frames.after(moved) is not None, 30)
    return frames.after(moved) - posted


async def measure(which: str, path: Path) -> dict:
    if which == "inspector":
        from minisweagent.run.utilities.inspector import TrajectoryInspector

        app = TrajectoryInspector([path])
        ready = lambda: app.is_running and app.n_steps > 0  # noqa: E731
        shown_at = lambda: 0.0  # noqa: E731  (it reads the file in __init__: its first frame shows it)
        position = lambda: app.i_step  # noqa: E731
        last, previous = ("dollar_sign", "$"), ("h", "h")
    else:
        sys.path.insert(0, str(Path(__file__).resolve().parents[2]))
        from trajscope.tui.app import TrajscopeApp
        from trajscope.tui.bridge import Source

        app = TrajscopeApp(Source(path))
        ready = lambda: getattr(app.screen, "model", None) is not None and not app.screen.tree.loading  # noqa: E731
        shown_at = lambda: app.screen.attached_at  # noqa: E731
        position = lambda: app.screen.tree.cursor_line  # noqa: E731
        last, previous = ("G", "G"), ("k", "k")
    frames = Frames(app)
    async with app.run_test(size=SIZE) as pilot:
        await until(ready)
        shown = shown_at()
        await until(lambda: frames.after(shown) is not None)
        first_paint = frames.after(shown) - STARTED
        await pilot.pause(0.2)
        jump = await press(app, frames, last, position)
        await pilot.pause(0.1)
        latencies = []
        for _ in range(20):
            latencies.append(await press(app, frames, previous, position))
            await asyncio.sleep(0.02)
    latencies.sort()
    return {
        "first_paint_s": round(first_paint, 3),
        "prev_p50_ms": round(latencies[len(latencies) // 2] * 1000, 1),
        "prev_p95_ms": round(latencies[int(0.95 * (len(latencies) - 1))] * 1000, 1),
        "jump_last_s": round(jump, 3),
        "peak_rss_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1),
    }


if __name__ == "__main__":
    print(json.dumps(asyncio.run(measure(sys.argv[1], Path(sys.argv[2])))))
