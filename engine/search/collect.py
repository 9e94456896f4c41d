"""Rollouts whose run logs become the PRM's training data (``trajscope prm collect``).

It runs the search (linear rollouts of the demo policy and of simulated models at
several wrong-fix rates), so it lives with the search; ``engine.prm.data`` turns the
logs into labelled steps without depending on the search."""

from __future__ import annotations

from collections.abc import Callable
from contextlib import contextmanager, nullcontext
from pathlib import Path

@contextmanager
def _fake_model(task, seed: int, wrong_rate: float):
    from engine.policy.simulated import ModelServer, Solver
    from engine.policy.llm import LLMPolicy

    with ModelServer(Solver(task, wrong_rate=wrong_rate, seed=seed)) as server:
        yield LLMPolicy(f"openai/simulated-wrong-{wrong_rate:g}", api_base=server.url)


def collect(out_dir: Path, tasks: list, demo_seeds: int, fake_seeds: int, wrong_rates: tuple[float, ...],
            sandbox: str = "local", workers: int = 2, say: Callable[[str], None] = lambda s: None) -> list[Path]:
    """Run linear rollouts (demo policy; simulated models at each wrong-fix rate) and keep their logs."""
    from engine.policy.demo import DemoPolicy
    from engine.search.evaluate import linear_rates

    plans: list[tuple[str, Callable, int]] = [("demo", lambda t, s: nullcontext(DemoPolicy(seed=s)), demo_seeds)]
    for rate in wrong_rates:
        plans.append((f"fake-{rate:g}", lambda t, s, r=rate: _fake_model(t, s, r), fake_seeds))
    for name, make, seeds in plans:
        if seeds:
            say(f"collecting: {name}, {seeds} seeds on {len(tasks)} tasks")
            linear_rates(tasks, make, list(range(seeds)), sandbox=sandbox, workers=workers,
                         out_dir=out_dir / name, say=say)
    return sorted(out_dir.rglob("*.jsonl"))
