"""Seeded synthetic run logs of any size, for benchmarks and tests of large trees."""

from __future__ import annotations

import random
from collections.abc import Iterator

from trajscope.engine.actions import make_action
from trajscope.engine.events import make_event

_COMMANDS = [
    ("bash", {"command": "python -m pytest -q tests/test_core.py"}),
    ("view", {"path": "src/core.py"}),
    ("search", {"pattern": "def resolve", "path": "src"}),
    ("str_replace", {"path": "src/core.py", "old": "return x", "new": "return x or default"}),
    ("insert", {"path": "src/core.py", "line": 40, "text": "    # guard"}),
    ("create", {"path": "repro.py", "content": "print(1)\n"}),
    ("bash", {"command": "git diff"}),
]


def _step(run: str, ts: float, node_id: str, parent, action: tuple[str, dict], thought: str, tokens) -> Iterator[dict]:
    yield make_event(
        "node_added",
        run,
        ts=ts,
        id=node_id,
        parent=parent,
        action=make_action(*action),
        thought=thought,
        proposer="policy",
        tokens_in=tokens[0],
        tokens_out=tokens[1],
        cost=0.0004,
    )


def _executed(run: str, ts: float, node_id: str, observation: str, exit_code: int) -> dict:
    return make_event(
        "node_executed",
        run,
        ts=ts,
        id=node_id,
        observation=observation,
        exit_code=exit_code,
        duration_s=0.2,
        state_ref=None,
        diff_stat=None,
    )


def synthetic_events(
    n_nodes: int, seed: int = 0, branch_every: int = 12, run: str = "synthetic", t0: float = 1_700_000_000.0
) -> Iterator[dict]:
    """A DARS-like search: depth-first chains, with branches at critical nodes."""
    rng = random.Random(seed)
    ts = t0
    yield make_event(
        "run_started",
        run,
        ts=ts,
        task={"instance_id": f"synthetic-{n_nodes}", "problem_statement": "A synthetic task."},
        config={"strategy": "synthetic", "seed": seed},
    )
    frontier: list[str | None] = [None]
    branchable: list[str] = []
    for i in range(1, n_nodes + 1):
        node_id = str(i)
        if branchable and rng.random() < 1 / branch_every:
            parent = rng.choice(branchable)
        else:
            parent = frontier[-1]
        tool, args = _COMMANDS[rng.randrange(len(_COMMANDS))]
        ts += rng.uniform(0.01, 0.5)
        tokens = (rng.randint(500, 4000), rng.randint(20, 300))
        output = f"output of step {i}\n" + "line of output\n" * rng.randint(1, 20)
        yield from _step(run, ts, node_id, parent, (tool, args), f"step {i}: try the next thing", tokens)
        yield _executed(run, ts, node_id, output, rng.choice((0, 0, 0, 1)))
        yield make_event("node_scored", run, ts=ts, id=node_id, scorer="builtin", score=round(rng.random(), 3))
        if tool in ("str_replace", "insert", "create"):
            branchable.append(node_id)
        if rng.random() < 0.08:  # a rollout ended: start again from a branch point
            frontier.append(rng.choice(branchable) if branchable else None)
        else:
            frontier[-1] = node_id
    yield make_event("run_finished", run, ts=ts, reason="synthetic")


def linear_events(n_steps: int, run: str = "linear", t0: float = 1_700_000_000.0) -> Iterator[dict]:
    """One path of ``n_steps`` turns, each the only child of the one before: the shape of a long
    single rollout, the deepest tree a log of that size can hold."""
    yield make_event(
        "run_started",
        run,
        ts=t0,
        task={"instance_id": f"linear-{n_steps}", "problem_statement": "A long single rollout."},
        config={"strategy": "linear"},
    )
    parent = None
    for i in range(1, n_steps + 1):
        # mostly steps never seen before (as an agent's are), some repeated ones
        tool, args = (
            ("view", {"path": f"src/module_{i}.py"})
            if i % 3 == 0
            else ("bash", {"command": f"python -m pytest -q tests/test_{i}.py"})
            if i % 3 == 1
            else _COMMANDS[i % len(_COMMANDS)]
        )
        ts = t0 + i * 0.1
        node_id = str(i)
        yield from _step(run, ts, node_id, parent, (tool, args), f"step {i}", (1000, 50))
        yield _executed(run, ts, node_id, f"output of step {i}\n", 0)
        parent = node_id
    yield make_event("run_finished", run, ts=t0 + n_steps * 0.1, reason="linear")
