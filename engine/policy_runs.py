"""Whole runs: one linear run of a policy on a task (``trajscope run``), resolve rates over
tasks and seeds (``trajscope bench policy``), and the rollouts whose logs become the PRM's
training data (``trajscope prm collect``). Each is a Session with the linear strategy, so
every run writes a real run log (docs/architecture.md section 5).
"""

from __future__ import annotations

import statistics
import tempfile
import threading
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager, nullcontext
from pathlib import Path

from trajscope.engine.events import RunLog
from trajscope.engine.policy.base import Policy
from trajscope.engine.search.budget import Budget
from trajscope.engine.search.recorder import RolloutResult, path_outcome
from trajscope.engine.search.config import SearchConfig
from trajscope.engine.session import Session
from trajscope.engine.tasks import Task
from trajscope.engine.tree import Tree


def run_linear(
    task: Task,
    policy: Policy,
    log: RunLog | str | Path,
    sandbox_kind: str = "local",
    max_steps: int = 30,
    timeout: float = 120.0,
    seed: int | None = None,
    stop: threading.Event | None = None,
    on_node: Callable[[object], None] | None = None,
    config: dict | None = None,
    **sandbox_options,
) -> tuple[RolloutResult, Tree]:
    """One rollout of ``policy`` on ``task`` in a fresh sandbox, recorded in ``log``, verified
    at the end; ``on_node`` sees each step once it ran (or failed); ``stop`` ends it early."""
    session = Session(
        task,
        policy,
        log,
        sandbox=sandbox_kind,
        budget=Budget(nodes=None),
        config=SearchConfig(strategy="linear", max_depth=max_steps, timeout=timeout),
        seed=seed,
        restarts=0,
        meta={"max_steps": max_steps, **(config or {})},
        **sandbox_options,
    )
    if on_node is not None:

        def listen(event: dict) -> None:  # under the recorder's lock: the node is as the event left it
            if event["type"] == "node_executed" or (event["type"] == "node_status" and event["status"] == "failed"):
                on_node(session.tree.nodes[event["id"]])

        session.recorder.listeners.append(listen)
    reason = None
    try:
        session.start()
        while session.wait(0.25) is None:
            if stop is not None and stop.is_set():
                reason = "stopped"
                break
    except KeyboardInterrupt:
        reason = "interrupted"
        raise
    finally:
        session.close(reason)
    tree = session.tree
    result = path_outcome(tree, max_steps) or RolloutResult("stopped", None)
    if reason is None and session.finished.startswith("sandbox failed"):
        result.reason, result.error = "sandbox_error", session.finished
    elif reason is not None:
        result.reason = reason
    return result, tree


def wilson(successes: int, n: int, z: float = 1.96) -> tuple[float, float]:
    """The Wilson score interval of a rate (95 % by default)."""
    if n == 0:
        return 0.0, 1.0
    p = successes / n
    centre = (p + z * z / (2 * n)) / (1 + z * z / n)
    half = z * ((p * (1 - p) / n + z * z / (4 * n * n)) ** 0.5) / (1 + z * z / n)
    return max(0.0, centre - half), min(1.0, centre + half)


def linear_rates(
    tasks: list,
    make_policy: Callable[[object, int], object],
    seeds: list[int],
    sandbox: str = "local",
    max_steps: int = 20,
    workers: int = 2,
    out_dir: str | Path | None = None,
    say: Callable[[str], None] = lambda line: None,
) -> list[dict]:
    """For each task, how many of ``seeds`` a linear run resolves, with steps and wall time.

    ``make_policy(task, seed)`` returns a context manager that gives the policy (so a
    policy that needs a server can start and stop it around the run).
    """
    from trajscope.engine.files import Folder, safe_name

    with Folder(out_dir or tempfile.mkdtemp(prefix="trajscope-rates-")) as folder:
        out = folder.path  # resolved once: the logs are named from task ids, never outside it

    def one(job: tuple) -> tuple:
        task, seed = job
        started = time.perf_counter()
        path = out / f"{safe_name(task.instance_id)}-seed{seed}.jsonl"
        path.unlink(missing_ok=True)
        with make_policy(task, seed) as policy:
            result, tree = run_linear(task, policy, path, sandbox, max_steps=max_steps, seed=seed)
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
        rows.append(
            {
                "task": task.instance_id,
                "runs": len(runs),
                "resolved": resolved,
                "rate": round(resolved / len(runs), 3),
                "ci95": [round(low, 3), round(high, 3)],
                "mean_steps": round(statistics.mean(r[1] for r in runs), 2),
                "median_wall_s": round(statistics.median(r[2] for r in runs), 2),
            }
        )
    return rows


@contextmanager
def _simulated_model(task, seed: int, wrong_rate: float):
    from trajscope.engine.policy.llm import LLMPolicy
    from trajscope.engine.policy.simulated import ModelServer, Solver

    with ModelServer(Solver(task, wrong_rate=wrong_rate, seed=seed)) as server:
        yield LLMPolicy(f"openai/simulated-wrong-{wrong_rate:g}", api_base=server.url)


def collect(
    out_dir: Path,
    tasks: list,
    demo_seeds: int,
    fake_seeds: int,
    wrong_rates: tuple[float, ...],
    sandbox: str = "local",
    workers: int = 2,
    say: Callable[[str], None] = lambda s: None,
) -> list[Path]:
    """The PRM's training runs: linear rollouts of the demo policy and of simulated models at
    each wrong-fix rate; returns their logs (``engine.prm.data`` labels their steps)."""
    from trajscope.engine.policy.demo import DemoPolicy

    plans: list[tuple[str, Callable, int]] = [("demo", lambda t, s: nullcontext(DemoPolicy(seed=s)), demo_seeds)]
    for rate in wrong_rates:
        plans.append((f"fake-{rate:g}", lambda t, s, r=rate: _simulated_model(t, s, r), fake_seeds))
    for name, make, seeds in plans:
        if seeds:
            say(f"collecting: {name}, {seeds} seeds on {len(tasks)} tasks")
            linear_rates(
                tasks, make, list(range(seeds)), sandbox=sandbox, workers=workers, out_dir=out_dir / name, say=say
            )
    return sorted(out_dir.rglob("*.jsonl"))


def examples_from_runs(paths: list[str | Path], say: Callable[[str], None] = lambda s: None) -> tuple[list, dict]:
    """PRM training steps from a person's own runs and imported trajectories (run logs,
    folders of runs with their harness reports, any format trajscope reads): labels from
    harness verdicts, Monte-Carlo outcomes where a tree has several leaves, and human prunes
    and promotions. Runs with none of these are skipped and counted."""
    from trajscope.engine.formats import FormatError
    from trajscope.engine.formats.collection import find_runs, find_verdicts
    from trajscope.engine.prm.data import examples_from_tree, has_labels, share_prefix_labels

    examples, counts = [], {"runs": 0, "used": 0, "skipped_no_label": 0, "unreadable": 0}
    for path in paths:
        path = Path(path)
        try:
            refs = find_runs(path)
        except FormatError as exc:
            raise FormatError(f"{path}: {exc}") from None
        verdicts = find_verdicts(path if path.is_dir() else path.parent)
        for ref in refs:
            counts["runs"] += 1
            try:
                tree = Tree.fold(ref.load(verdicts).events)
            except (FormatError, OSError, ValueError):
                counts["unreadable"] += 1
                continue
            if not has_labels(tree):
                counts["skipped_no_label"] += 1
                continue
            counts["used"] += 1
            examples += examples_from_tree(tree, run=ref.name)
    say(
        f"{counts['used']} of {counts['runs']} runs have verdicts or human labels: {len(examples)} steps "
        f"({counts['skipped_no_label']} without any label skipped, {counts['unreadable']} unreadable)"
    )
    return share_prefix_labels(examples), counts
