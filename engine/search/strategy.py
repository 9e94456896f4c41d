"""What a search strategy is: it says which work comes next (docs/architecture.md section 5).

The Session's loop starts ``width`` rollouts from the task, starts again when every
one died at its first step, and asks its strategy for more whenever the queue runs
dry. A strategy answers with jobs (``next_jobs``): the first runs at once, the
others are queued. It reads the tree and the search's public state through
``SearchView`` and never touches the queue, the workers or the log directly.

An ``expand`` job (DARS's, or a person's re-sample) asks the strategy for the prompt
the alternatives are drawn with (``expansion_prompt``) and, for the engine's own
expansions, which candidate to keep (``choose``); the job itself (sampling, dropping
repeats, recording, running) is the same for every strategy (engine/search/work.py).

To add a strategy: one module with a ``Strategy`` subclass, and one line in
``engine.search.STRATEGIES`` (or none: ``--strategy mymodule:MyStrategy``).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

from trajscope.engine.search.budget import Budget
from trajscope.engine.tree import ROOT, Tree


@dataclass
class Job:
    """One piece of work for a worker. People's jobs have priority 0 and go first."""

    kind: str  # rollout, expand, edit, submit
    node: str = ROOT
    n: int = 1
    hint: str | None = None
    action: dict | None = None
    by: str = "engine"
    instructions: str | None = None
    delay: float = 0.0  # seconds to wait first (a restart's back-off)
    priority: int = 1


class SearchView(Protocol):
    """What a strategy may read of the search, and the one thing it may do: record an event."""

    tree: Tree
    busy: int  # workers running a job now
    budget: Budget
    origin: str  # where rollouts start: the task, or the imported step a search branches below

    def emit(self, type_: str, **fields) -> dict: ...


class Strategy:
    """Linear by default: ``width`` rollouts from the task, then nothing more.

    ``prune``: each step samples ``prune_m`` candidates and the PRM keeps ``prune_b``
    (a step option any strategy may take). ``phase``: what the strategy is doing now,
    shown in the live status bar."""

    name = "linear"

    def __init__(self, config, tree: Tree, prune: bool = False) -> None:
        self.config, self.prune = config, prune
        self.phase = config.strategy

    @property
    def width(self) -> int:
        """Rollouts from the task the search starts with."""
        return 1

    def next_jobs(self, search: SearchView) -> list[Job]:
        """More work once the first rollouts are planned (called with the queue's lock held:
        quick, and no waiting); empty when there is none now."""
        return []

    def end_reason(self, tree: Tree) -> str | None:
        """Why the search ended, in the strategy's words, once nothing is left to do (None:
        the Session says the search is exhausted)."""
        return None

    def expansion_prompt(self, tree: Tree, node_id: str) -> str:
        """What the model reads when it draws alternatives to ``node_id``: the resample prompt
        (what the old action did and what followed it; replace it, do not continue). The
        hidden tests' verdict is in it only when the user asked for ``oracle``."""
        from trajscope.engine.search.resample import resample_prompt

        return resample_prompt(tree, node_id, oracle=getattr(self.config, "oracle", False))

    def choose(self, session, parent: str, proposals: list) -> tuple[int, dict]:
        """Which of an engine expansion's ``proposals`` to keep (a person keeps them all), and
        the critic's record for the log: the first, unless the strategy has a critic."""
        return 0, {"method": "first"}

    def set_phase(self, search: SearchView, phase: str, **fields) -> None:
        self.phase = phase
        search.emit("command", name="search_phase", by="engine", phase=phase, **fields)


def origin_of(search) -> str:
    """Where ``search``'s rollouts start (the task's root unless it branches from an imported step)."""
    return getattr(search, "origin", ROOT)


def rollout_heads(tree: Tree, origin: str) -> list[str]:
    """The first steps of the rollouts below ``origin``: its children this search added (an
    imported run's next recorded step is not one)."""
    return [c for c in tree.children(origin) if tree.nodes[c].proposer != "import"]
