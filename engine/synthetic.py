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


def synthetic_events(n_nodes: int, seed: int = 0, branch_every: int = 12,
                     run: str = "synthetic", t0: float = 1_700_000_000.0) -> Iterator[dict]:
    """A DARS-like search: depth-first chains, with branches at critical nodes."""
    rng = random.Random(seed)
    ts = t0
    yield make_event("run_started", run, ts=ts,
                     task={"instance_id": f"synthetic-{n_nodes}", "problem_statement": "A synthetic task."},
                     config={"strategy": "synthetic", "seed": seed})
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
        yield make_event("node_added", run, ts=ts, id=node_id, parent=parent,
                         action=make_action(tool, args), thought=f"step {i}: try the next thing",
                         proposer="policy", tokens_in=rng.randint(500, 4000),
                         tokens_out=rng.randint(20, 300), cost=0.0004)
        yield make_event("node_executed", run, ts=ts, id=node_id,
                         observation=f"output of step {i}\n" + "line of output\n" * rng.randint(1, 20),
                         exit_code=rng.choice((0, 0, 0, 1)), duration_s=0.2, state_ref=None,
                         diff_stat=None)
        yield make_event("node_scored", run, ts=ts, id=node_id, scorer="builtin",
                         score=round(rng.random(), 3))
        if tool in ("str_replace", "insert", "create"):
            branchable.append(node_id)
        if rng.random() < 0.08:  # a rollout ended: start again from a branch point
            frontier.append(rng.choice(branchable) if branchable else None)
        else:
            frontier[-1] = node_id
    yield make_event("run_finished", run, ts=ts, reason="synthetic")
