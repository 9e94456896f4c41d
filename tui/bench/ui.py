"""``trajscope bench ui``: keypress-to-repaint latency of the live app while a real search grows.

Method: a Session (demo policy, local sandbox, heuristic PRM, PRM pruning with 32 candidates
a step of which 2 run, 2 workers; about 75 nodes a second unthrottled on 2 cores) is throttled
to ``--rate`` nodes a second and shown in the live app, headless, at 140x40, in one process.
Every 100 ms a cursor key (j/k, alternating) is posted; its latency is the time from posting it to the first frame the compositor draws
after the cursor moved (``App._display`` timestamps frames, as in ``bench open``). Following
is off, so only the key moves the cursor. The achieved node rate is measured over the same
window, and the lag is how many nodes the Session had that the UI had not drawn yet.
"""

from __future__ import annotations

import asyncio
import json
import statistics
import tempfile
import threading
import time
from pathlib import Path

from trajscope.demo_data import TASKS as TASKS_DIR
from trajscope.tui.bench.frames import SIZE, FrameClock, key_latency, rss_mb, wait

TASK = TASKS_DIR / "slugify-accents"


class Throttled:
    """Holds a policy to at most ``rate`` proposed nodes a second, across threads."""

    def __init__(self, policy, rate: float) -> None:
        self.policy, self.rate, self.name = policy, rate, policy.name
        self.lock = threading.Lock()
        self.started = time.monotonic()
        self.issued = 0

    def propose(self, context, n: int = 1, temperature=None):
        with self.lock:
            due = self.started + self.issued / self.rate
            self.issued += n
        delay = due - time.monotonic()
        if delay > 0:
            time.sleep(delay)
        return self.policy.propose(context, n, temperature)


async def measure(rate: float, seconds: float) -> dict:
    from trajscope.engine.policy.demo import DemoPolicy
    from trajscope.engine.prm.heuristic import HeuristicScorer
    from trajscope.engine.search.budget import Budget
    from trajscope.engine.search.config import SearchConfig
    from trajscope.engine.session import Session
    from trajscope.engine.tasks import load_task_dir
    from trajscope.tui.app import TrajscopeApp
    from trajscope.tui.bridge import LiveSource

    task = load_task_dir(TASK)
    with tempfile.TemporaryDirectory() as tmp:
        policy = Throttled(DemoPolicy(seed=1), rate)
        session = Session(
            task,
            policy,
            Path(tmp) / "bench.jsonl",
            scorers=[HeuristicScorer()],
            budget=Budget(nodes=int(rate * (seconds + 30))),
            workers=2,
            config=SearchConfig(strategy="prune", prune_m=32, prune_b=2),
        )
        app = TrajscopeApp(LiveSource(session))
        clock = FrameClock(app)
        latencies: list[float] = []
        lags: list[int] = []
        try:
            async with app.run_test(size=SIZE):
                session.start()
                policy.started = time.monotonic()
                screen = app.screen
                await wait(lambda: getattr(screen, "model", None) is not None and len(screen.model) > 20, 60)
                screen.following = False
                tree = screen.tree
                n0, t0 = len(session.tree), time.perf_counter()
                key = "j"
                while time.perf_counter() - t0 < seconds:
                    latencies.append(await key_latency(app, clock, tree, key))
                    lags.append(len(session.tree) - len(screen.model))
                    key = "k" if key == "j" else "j"
                    await asyncio.sleep(0.1)
                elapsed = time.perf_counter() - t0
                grown = len(session.tree) - n0
                session.commands.pause()
        finally:
            session.close()
    latencies.sort()
    return {
        "target_nodes_per_s": rate,
        "achieved_nodes_per_s": round(grown / elapsed, 1),
        "seconds": round(elapsed, 1),
        "keypresses": len(latencies),
        "key_to_repaint_p50_ms": round(statistics.median(latencies) * 1000, 1),
        "key_to_repaint_p95_ms": round(latencies[int(0.95 * (len(latencies) - 1))] * 1000, 1),
        "key_to_repaint_max_ms": round(latencies[-1] * 1000, 1),
        "max_lag_nodes": max(lags),
        "peak_rss_mb": round(rss_mb(), 1),
    }


def add_options(p) -> None:
    p.add_argument("--rate", type=float, default=50, help="nodes a second the live search produces")
    p.add_argument("--seconds", type=float, default=15, help="how long keys are pressed")
    p.add_argument("--json", action="store_true")


def run(args) -> int:
    from rich.console import Console
    from rich.table import Table

    console = Console(stderr=True)
    console.print(
        f"ui: a live search throttled to {args.rate:g} nodes/s, a cursor key every 100 ms for {args.seconds:g} s…"
    )
    result = asyncio.run(measure(args.rate, args.seconds))
    if args.json:
        print(json.dumps(result, indent=2))
        return 0
    table = Table(title="trajscope bench ui (goal: p95 under 100 ms at 50 nodes/s)")
    table.add_column("measure")
    table.add_column("value")
    for key, value in result.items():
        table.add_row(key, str(value))
    Console().print(table)
    return 0
