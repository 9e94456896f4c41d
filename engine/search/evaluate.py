"""Resolve rates of a policy over tasks and seeds: one linear run each, in parallel.

Used by ``trajscope bench policy`` (the demo policy's rates per task) and as
the measuring loop of later benchmarks. Every run writes a real run log.
"""

from __future__ import annotations

import statistics
import tempfile
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from engine.events import RunLog
from engine.search.rollout import run_linear


def wilson(successes: int, n: int, z: float = 1.96) -> tuple[float, float]:
    """The Wilson score interval of a rate (95 % by default)."""
    if n == 0:
        return 0.0, 1.0
    p = successes / n
    centre = (p + z * z / (2 * n)) / (1 + z * z / n)
    half = z * ((p * (1 - p) / n + z * z / (4 * n * n)) ** 0.5) / (1 + z * z / n)
    return max(0.0, centre - half), min(1.0, centre + half)


def linear_rates(tasks: list, make_policy: Callable[[object, int], object], seeds: list[int], sandbox: str = "local",
                 max_steps: int = 20, workers: int = 2, out_dir: str | Path | None = None,
                 say: Callable[[str], None] = lambda line: None) -> list[dict]:
    """For each task, how many of ``seeds`` a linear run resolves, with steps and wall time.

    ``make_policy(task, seed)`` returns a context manager that gives the policy (so a
    policy that needs a server can start and stop it around the run).
    """
    out = Path(out_dir or tempfile.mkdtemp(prefix="trajscope-rates-"))
    out.mkdir(parents=True, exist_ok=True)

    def one(job: tuple) -> tuple:
        task, seed = job
        started = time.perf_counter()
        path = out / f"{task.instance_id}-seed{seed}.jsonl"
        path.unlink(missing_ok=True)
        with make_policy(task, seed) as policy, RunLog(path) as log:
            result, tree = run_linear(task, policy, log, sandbox, max_steps=max_steps, seed=seed)
        return task.instance_id, bool(result.resolved), result.steps, time.perf_counter() - started, result.reason

    jobs = [(task, seed) for task in tasks for seed in seeds]
    outcomes: dict[str, list[tuple]] = {task.instance_id: [] for task in tasks}
    with ThreadPoolExecutor(max_workers=workers) as pool:
        for i, (instance, resolved, steps, wall, reason) in enumerate(pool.map(one, jobs), 1):
            outcomes[instance].append((resolved, steps, wall, reason))
            say(f"{i}/{len(jobs)} {instance}: {'resolved' if resolved else reason}")
    rows = []
    for task in tasks:
        runs = outcomes[task.instance_id]
        resolved = sum(r[0] for r in runs)
        low, high = wilson(resolved, len(runs))
        rows.append({"task": task.instance_id, "runs": len(runs), "resolved": resolved,
                     "rate": round(resolved / len(runs), 3), "ci95": [round(low, 3), round(high, 3)],
                     "mean_steps": round(statistics.mean(r[1] for r in runs), 2),
                     "median_wall_s": round(statistics.median(r[2] for r in runs), 2)})
    return rows
